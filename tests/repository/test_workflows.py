"""The GitHub Actions workflows: valid against the workflow schema (offline), every
third-party action pinned by commit, and everything they run present in the repository."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.repository.shell_commands import REPOSITORY, commands, missing_references

WORKFLOWS = sorted((REPOSITORY / ".github" / "workflows").glob("*.yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, job, step


def test_the_ci_and_cd_workflows_exist():
    assert [path.name for path in WORKFLOWS] == ["cd.yml", "ci.yml"]


def test_workflows_validate_against_the_github_actions_schema():
    result = validate(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    # `runs_on` is a typo GitHub would reject; `steps` must be a list.
    broken.write_text("on: push\njobs:\n  build:\n    runs_on: ubuntu-24.04\n    steps: make\n")
    result = validate(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "broken.yml" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_full_commit_sha_with_its_release(path):
    uses = re.findall(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", path.read_text(), re.MULTILINE)
    assert uses
    unpinned = [use for use in uses if not PINNED_ACTION.match(use)]
    assert not unpinned, f"pin by 40-hex commit SHA and name the release: {unpinned}"


def test_each_action_is_pinned_to_one_commit_everywhere():
    commits: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for action, sha in re.findall(r"uses:\s*([\w./-]+)@([0-9a-f]{40})", path.read_text()):
            commits.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in commits.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_everything_the_workflows_run_exists_in_the_repository(path):
    problems = []
    for job_name, _, step in steps(load(path)):
        if "run" in step:
            problems += [
                f"{job_name}: {problem}"
                for command in commands(step["run"])
                for problem in missing_references(command)
            ]
    assert not problems, "\n".join(problems)


def test_ci_lints_runs_the_test_command_and_scans_both_images():
    ci = load(REPOSITORY / ".github" / "workflows" / "ci.yml")
    runs = {
        job: " ".join(step.get("run", "") for step in job_body["steps"])
        for job, job_body in ci["jobs"].items()
    }
    assert "ruff check" in runs["lint"] and "ruff format --check" in runs["lint"]
    assert "bash .ci/run" in runs["test"], "the same entry point as the project's own CI"
    assert ci["jobs"]["test"]["container"]["image"].startswith("debian:12")
    services = ci["jobs"]["images"]["strategy"]["matrix"]["service"]
    assert sorted(services) == ["audit-service", "items-service"]
    assert all((REPOSITORY / service / "Dockerfile").is_file() for service in services)
    scan = [step for step in ci["jobs"]["images"]["steps"] if "trivy" in step.get("uses", "")]
    assert scan and scan[0]["with"]["exit-code"] == "1", "a finding must fail the build"


def test_cd_previews_pull_requests_and_deploys_main_only_after_approval_and_end_to_end():
    cd = load(REPOSITORY / ".github" / "workflows" / "cd.yml")
    # PyYAML reads the `on` key as the boolean True.
    triggers = cd[True]
    assert "pull_request" in triggers
    assert triggers["workflow_run"] == {
        "workflows": ["CI"],
        "types": ["completed"],
        "branches": ["main"],
    }
    jobs = cd["jobs"]
    assert "pull_request" in jobs["preview"]["if"]
    assert any("pulumi preview" in step.get("run", "") for step in jobs["preview"]["steps"])

    deploy = jobs["deploy"]
    assert deploy["environment"]["name"] == "production", "required reviewers live there"
    assert deploy["needs"] == "end-to-end"
    assert "success" in deploy["if"]
    assert any("pulumi up" in step.get("run", "") for step in deploy["steps"])

    end_to_end = " ".join(step.get("run", "") for step in jobs["end-to-end"]["steps"])
    for command in ("make up", ".github/scripts/assignment-flow.sh", "make down"):
        assert command in end_to_end


def test_the_end_to_end_flow_is_the_assignments():
    flow = (REPOSITORY / ".github" / "scripts" / "assignment-flow.sh").read_text()
    assert '-d \'{"name": "Test Item", "description": "Testing"}\'' in flow
    assert "psql -U postgres -d itemsdb" in flow
    assert "SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;" in flow


@pytest.mark.parametrize(
    "script", sorted((REPOSITORY / ".github" / "scripts").glob("*.sh")), ids=lambda p: p.name
)
def test_workflow_scripts_parse(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
