"""The real Pulumi CLI where `make up` meets it first: the state directory of a new
user, and the tracked dev stack file. Checks the Pulumi stand-in the repository tier
runs scripts/up and scripts/down with (tests/support/pulumi_standin.py) against the
real CLI, and that the stack `make up` creates leaves the clone as it was.

Nothing here is created under the real home: the missing state directories are
named, never made, and the stacks live in temporary directories."""

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.e2e.stack import copy_of_the_clone
from tests.support.standin_commands import (
    STANDIN_PULUMI,
    STRANGER_UID,
    Tools,
    fake_infra_virtualenv,
)

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
    return commit(copy_of_the_clone(tmp_path / "clone"))


def commit(directory: Path) -> Path:
    """The files as a fresh clone has them: committed, nothing else."""
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


# Every command of scripts/up and scripts/down that opens the backend.
BACKEND_COMMANDS = (
    ["stack", "ls", "--json"],
    ["stack", "init", "dev"],
    ["stack", "select", "dev"],
    ["config", "--json", "--stack", "dev"],
    ["stack", "output", "--json", "--stack", "dev"],
    ["state", "unprotect", "--all", "--yes", "--stack", "dev"],
    ["up", "--yes", "--refresh", "--skip-preview", "--stack", "dev"],
    ["destroy", "--yes", "--skip-preview", "--stack", "dev"],
    ["stack", "rm", "--yes", "--force", "--preserve-config", "dev"],
)


@pytest.mark.parametrize("command", BACKEND_COMMANDS, ids=" ".join)
def test_the_standin_refuses_a_missing_state_directory_as_the_real_cli_does(
    tools, fresh_clone, tmp_path, missing_backend, command
):
    env = pulumi_env(tools, tmp_path, PULUMI_BACKEND_URL=missing_backend)

    real = run(["pulumi", *command], fresh_clone, env)
    standin = run(["/usr/bin/python3", str(STANDIN_PULUMI), *command], fresh_clone, env)

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
        ["/usr/bin/python3", str(STANDIN_PULUMI), "config", "--json", "--stack", "dev"],
        fresh_clone,
        env,
    )
    status = run(["git", "status", "--porcelain"], fresh_clone, env)

    assert (fresh_clone / "Pulumi.dev.yaml").read_bytes() == before
    assert status.stdout == ""
    assert json.loads(settings.stdout)["items-audit:cluster"]["value"] == "kind"
    assert stack_settings(standin.stdout) == stack_settings(settings.stdout)


def stack_settings(shown: str) -> dict[str, str]:
    """The program's own settings in `pulumi config --json`'s answer (the project's
    `pulumi:` settings from Pulumi.yaml come with them)."""
    return {
        key: value["value"]
        for key, value in json.loads(shown).items()
        if key.startswith("items-audit:")
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


def test_make_up_from_nothing_gets_through_its_pulumi_steps_with_the_real_cli(tools, tmp_path):
    """scripts/up for a new user, in a fresh clone, with the real CLI for every state
    and stack command and Pulumi.yaml's own backend; only the deployment itself (`pulumi
    up`, `stack output`) and the cluster tools are stand-ins: deploying is the rest of
    this tier's business. The user is one the user database does not list, so that `~`
    is their $HOME, a directory of this test's own."""
    workspace = Path(tempfile.mkdtemp(prefix="e2e-make-up-"))
    try:
        workspace.chmod(0o755)
        clone = copy_of_the_clone(workspace / "clone")
        commit(clone)
        home = workspace / "home"
        home.mkdir()
        fakes = Tools(workspace)
        shutil.copy(tools / "pulumi", workspace / "pulumi-cli")
        fakes.add(
            "pulumi",
            "  'up '*) exit 0 ;;\n"
            "  'stack output'*) echo '{\"items_url\": \"http://localhost:8080\"}' ;;\n"
            f'  *) exec "{workspace / "pulumi-cli"}" "$@" ;;',
        )
        fakes.add(
            "docker",
            "  info) echo 'Server Version: 29.0.0' ;;\n"
            "  'version --format {{.Server.Version}}') echo 29.0.0 ;;",
        )
        fakes.add("kubectl", "")
        fakes.add(
            "kind",
            "  version) echo 'kind v0.32.0 go1.25.4 linux/amd64' ;;\n"
            "  'get clusters') echo items-audit ;;",
        )
        fake_infra_virtualenv(clone)
        subprocess.run(
            ["chown", "-R", f"{STRANGER_UID}:{STRANGER_UID}", str(workspace)], check=True
        )

        result = subprocess.run(
            [shutil.which("setpriv"), f"--reuid={STRANGER_UID}", f"--regid={STRANGER_UID}"]
            + ["--clear-groups", "bash", str(clone / "scripts" / "up")],
            env={
                "PATH": fakes.path,
                "HOME": str(home),
                "USER": "reviewer",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        status = subprocess.run(
            ["git", "-c", f"safe.directory={clone}", "status", "--porcelain"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=True,
        )

        assert result.returncode == 0, result.stdout + result.stderr
        assert f"==> creating the Pulumi state directory {home}/.pulumi-local" in result.stdout
        assert "Created stack 'dev'" in result.stderr
        assert list((home / ".pulumi-local").rglob("dev.json"))
        assert status.stdout == "", "make up changed the clone"
    finally:
        shutil.rmtree(workspace)
