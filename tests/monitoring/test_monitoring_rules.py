"""The alert rules: valid for Prometheus, and each alert both fires and stays quiet in
promtool's unit tests (rule_tests/*.yml) on synthetic series."""

import subprocess
from pathlib import Path

import pytest
import yaml

import monitoring
from tests.monitoring.prometheus_server import binary
from tests.monitoring.promql import alerts

RULE_TESTS = sorted((Path(__file__).parent / "rule_tests").glob("*_test.yml"))
# What the issue asks alerts for.
EXPECTED_ALERTS = {
    "HTTPErrorBudgetBurnFast",
    "HTTPErrorBudgetBurnSlow",
    "HTTPLatencyP99High",
    "AuditOutboxBacklogGrowing",
    "AuditDeliveryFailing",
    "AuditEventsRejected",
    "AuditEventIdConflicts",
    "TargetDown",
    "PostgresUnreachable",
    "DatabaseFillingUp",
    "DatabaseFullWithinADay",
    "DatabaseVolumeFillingUp",
    "DatabaseVolumeFullWithinADay",
    "AuditRetentionNotRunning",
}


def test_promtool_accepts_every_rule_file(tmp_path):
    paths = []
    for name, text in monitoring.alert_rules().items():
        path = tmp_path / name
        path.write_text(text)
        paths.append(str(path))
    result = subprocess.run(
        [binary("promtool"), "check", "rules", *paths], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_the_issue_asks_for_exist_with_severity_and_explanation():
    by_name = {rule["alert"]: rule for rule in alerts()}
    assert set(by_name) == EXPECTED_ALERTS
    for name, rule in by_name.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


@pytest.mark.parametrize("rule_test", RULE_TESTS, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(rule_test):
    result = subprocess.run(
        [binary("promtool"), "test", "rules", rule_test.name],
        cwd=rule_test.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_firing_and_staying_quiet():
    firing, quiet = set(), set()
    tested_rule_files = set()
    for rule_test in RULE_TESTS:
        document = yaml.safe_load(rule_test.read_text())
        tested_rule_files |= {Path(path).name for path in document["rule_files"]}
        for case in document["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert tested_rule_files == set(monitoring.alert_rules())
    assert firing == EXPECTED_ALERTS, f"never shown firing: {EXPECTED_ALERTS - firing}"
    assert quiet == EXPECTED_ALERTS, f"never shown quiet: {EXPECTED_ALERTS - quiet}"
