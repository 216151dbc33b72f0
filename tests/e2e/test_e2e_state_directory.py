"""The real Pulumi CLI where `make up` meets it first: the state directory of a new
user, and the tracked dev stack file. Checks the Pulumi stand-in the repository tier
runs scripts/up and scripts/down with (tests/support/pulumi_standin.py) against the
real CLI, and that the stack `make up` creates leaves the clone as it was.

Nothing here is created under the real home: the missing state directories are
named, never made, and the stacks live in temporary directories."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.stack import copy_of_the_clone
from tests.support.repository_files import REPOSITORY

STANDIN = REPOSITORY / "tests" / "support" / "pulumi_standin.py"
DEV_PASSPHRASE = "items-audit-dev"  # noqa: S105 (the documented laptop passphrase)


def pulumi_env(tools: Path, home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: $HOME somewhere else than the user database says."""
    return {
        "PATH": f"{tools}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        **extra,
    }


def run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """A fresh clone: the repository's files, committed, nothing else."""
    directory = copy_of_the_clone(tmp_path / "clone")
    for command in (
        ["git", "init", "--quiet"],
        ["git", "add", "--all"],
        ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@localhost", "commit", "-qm", "clone"],
    ):
        subprocess.run(command, cwd=directory, check=True, capture_output=True)
    return directory


@pytest.fixture
def missing_backend() -> str:
    """A file:// backend under `~` whose directory does not exist (and is never made)."""
    return f"file://~/.items-audit-e2e-missing-{uuid.uuid4().hex}"


def test_the_standin_refuses_a_missing_state_directory_as_the_real_cli_does(
    tools, fresh_clone, tmp_path, missing_backend
):
    env = pulumi_env(tools, tmp_path, PULUMI_BACKEND_URL=missing_backend)

    real = run(["pulumi", "stack", "ls", "--json"], fresh_clone, env)
    standin = run(["/usr/bin/python3", str(STANDIN), "stack", "ls", "--json"], fresh_clone, env)

    assert "unable to open state directory" in real.stderr
    assert (standin.returncode, standin.stderr.strip()) == (real.returncode, real.stderr.strip())


def test_make_up_creates_the_state_directory_the_real_cli_resolves(
    tools, fresh_clone, tmp_path, missing_backend
):
    env = pulumi_env(tools, tmp_path, PULUMI_BACKEND_URL=missing_backend)

    real = run(["pulumi", "stack", "ls", "--json"], fresh_clone, env)
    script = run(["bash", "-c", "source scripts/common.sh && state_directory"], fresh_clone, env)

    resolved = script.stdout.strip()
    assert f'(resolved to "file://{resolved}")' in real.stderr
    assert not resolved.startswith(str(tmp_path)), "the CLI does not take ~ from $HOME"
    assert not Path(resolved).exists()


def test_the_dev_stack_made_from_the_tracked_file_leaves_the_clone_clean(
    tools, fresh_clone, tmp_path
):
    """`make up`'s Pulumi commands on a fresh clone: the salt in Pulumi.dev.yaml is the
    documented passphrase's, so the CLI neither asks nor rewrites the file."""
    env = pulumi_env(
        tools,
        tmp_path,
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE=DEV_PASSPHRASE,
    )
    (tmp_path / "state").mkdir()
    before = (fresh_clone / "Pulumi.dev.yaml").read_bytes()

    for command in (
        ["pulumi", "stack", "init", "dev"],
        ["pulumi", "stack", "select", "dev"],
        ["pulumi", "config", "--json", "--stack", "dev"],
        ["pulumi", "stack", "ls", "--json"],
    ):
        result = run(command, fresh_clone, env)
        assert result.returncode == 0, f"{command}: {result.stderr}"
    settings = run(["pulumi", "config", "--json", "--stack", "dev"], fresh_clone, env)
    standin = run(
        ["/usr/bin/python3", str(STANDIN), "config", "--json", "--stack", "dev"], fresh_clone, env
    )
    status = run(["git", "status", "--porcelain"], fresh_clone, env)

    assert (fresh_clone / "Pulumi.dev.yaml").read_bytes() == before
    assert status.stdout == ""
    assert json.loads(settings.stdout)["items-audit:cluster"]["value"] == "kind"
    assert {key: value["value"] for key, value in json.loads(standin.stdout).items()} == {
        key: value["value"] for key, value in json.loads(settings.stdout).items()
    }


def test_a_wrong_passphrase_is_refused_before_the_stack_exists(tools, fresh_clone, tmp_path):
    env = pulumi_env(
        tools,
        tmp_path,
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="not-the-documented-one",
    )
    (tmp_path / "state").mkdir()

    result = run(["pulumi", "stack", "init", "dev"], fresh_clone, env)

    assert result.returncode != 0
    assert "incorrect passphrase" in result.stderr
    assert run(["git", "status", "--porcelain"], fresh_clone, env).stdout == ""
    assert not list((tmp_path / "state").rglob("dev.json"))
