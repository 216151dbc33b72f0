"""`.github/scripts/assignment-flow.sh`, the CD workflow's end-to-end check, run against
both services under gunicorn on a real database. Only `kubectl` is a stand-in
(tests/repository/fake_kubectl.py): psql runs for real on the test database, and the
stand-in's network either enforces the NetworkPolicies or lets everything through."""

import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from tests.repository.fake_kubectl import AUDIT_SERVICE_IP, POSTGRES_POD
from tests.repository.shell_commands import REPOSITORY

FLOW = REPOSITORY / ".github" / "scripts" / "assignment-flow.sh"
FAKE_KUBECTL = Path(__file__).with_name("fake_kubectl.py")


def run_flow(tmp_path, items, database, network: str, wait_seconds: int = 30):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_KUBECTL}" "$@"\n')
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "ITEMS_URL": items.url,
        "AUDIT_WAIT_SECONDS": str(wait_seconds),
        "FAKE_KUBECTL_DATABASE_URL": database.url(),
        "FAKE_KUBECTL_NETWORK": network,
        "FAKE_KUBECTL_LOG": str(log),
    }
    result = subprocess.run(
        ["bash", str(FLOW)], env=env, capture_output=True, text=True, timeout=wait_seconds + 60
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def execs(calls, target: str) -> list[list[str]]:
    return [call[call.index("--") + 1 :] for call in calls if "exec" in call and target in call]


def test_the_flow_checks_the_audit_rows_and_a_denied_path(tmp_path, items, database):
    result, calls = run_flow(tmp_path, items, database, network="enforced")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "item.create 201,item.list 200,item.read 200" in result.stdout
    probes = [command for command in execs(calls, POSTGRES_POD) if command[0] == "timeout"]
    assert probes == [
        ["timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{AUDIT_SERVICE_IP}/8081"]
    ], "the postgres pod must try audit-service's port"
    assert "postgres -> audit-service:8081: denied (exit 124)" in result.stdout


def test_the_flow_fails_when_the_network_policies_are_not_enforced(tmp_path, items, database):
    result, _ = run_flow(tmp_path, items, database, network="open")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the NetworkPolicies are not enforced" in result.stderr


@pytest.fixture
def list_events_refused(database):
    """audit_logs refuses item.list rows, as if the list request went unaudited."""
    with closing(database.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE audit_logs ADD CONSTRAINT no_list CHECK (action <> 'item.list') NOT VALID"
        )
    yield
    with closing(database.connect()) as connection, connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_logs DROP CONSTRAINT no_list")


@pytest.mark.usefixtures("list_events_refused")
def test_the_flow_fails_without_the_item_list_row(tmp_path, items, database):
    result, _ = run_flow(tmp_path, items, database, network="enforced", wait_seconds=6)
    assert result.returncode == 1, result.stdout + result.stderr
    expected, found = result.stderr.split(", found: ")
    assert expected == "expected the audit rows 'item.create 201,item.list 200,item.read 200'"
    assert "item.list" not in found
