"""Policy and lint checks of both Dockerfiles (checkov's Dockerfile checks, hadolint)."""

import json
import subprocess
import sys
from pathlib import Path

from tests.containers.docker_cli import REPOSITORY, SERVICE_PORTS

DOCKERFILES = [str(REPOSITORY / service / "Dockerfile") for service in SERVICE_PORTS]
# Made by scripts/setup/50-checkov.sh: checkov's pins conflict with pulumi's.
CHECKOV = REPOSITORY / ".venv-checkov" / "bin" / "checkov"
HADOLINT = Path(sys.executable).with_name("hadolint")


def test_checkov_dockerfile_checks_pass():
    files = [argument for path in DOCKERFILES for argument in ("--file", path)]
    result = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "dockerfile", *files, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        (check["check_id"], check["file_path"]) for check in report["results"]["failed_checks"]
    ]
    assert result.returncode == 0 and failed == [], failed
    assert summary["passed"] > 0
    # A skip is allowed only inline, with its reason, in the Dockerfile itself.
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"]["suppress_comment"].strip(), check["check_id"]


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", *DOCKERFILES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
