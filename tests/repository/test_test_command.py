"""`make test` (scripts/test) where a reviewer sits: on Debian 12 as root it runs the
suite there; anywhere else it runs it in a Debian 12 container through the user's
own Docker engine, with what the tests need reaching the same things inside.

scripts/test and scripts/test-in-container run for real; docker is a stand-in that
records the container it is asked to run (the container path itself is run for
real on this machine: see the report of the change that added it)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.repository_files import REPOSITORY
from tests.support.standin_commands import STRANGER_UID, Tools

SETPRIV = shutil.which("setpriv")


@pytest.fixture
def workspace():
    directory = Path(tempfile.mkdtemp(prefix="test-command-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def checkout(workspace) -> Path:
    tree = workspace / "checkout"
    shutil.copytree(REPOSITORY / "scripts", tree / "scripts")
    return tree


@pytest.fixture
def tools(workspace) -> Tools:
    """A Docker engine that answers and has every image already."""
    tools = Tools(workspace)
    tools.add(
        "docker",
        "  'context inspect --format {{.Endpoints.docker.Host}}')"
        " echo unix:///var/run/docker.sock ;;\n"
        "  run*) echo 'the suite ran in the container' ;;",
    )
    return tools


def make_test(checkout: Path, tools: Tools, *arguments: str, as_root: bool, env=None):
    command = ["bash", str(checkout / "scripts" / "test"), *arguments]
    if not as_root:
        subprocess.run(["chown", "-R", f"{STRANGER_UID}", str(checkout.parent)], check=True)
        command = [SETPRIV, f"--reuid={STRANGER_UID}", f"--regid={STRANGER_UID}", "--clear-groups"]
        command += ["bash", str(checkout / "scripts" / "test"), *arguments]
    return subprocess.run(
        command,
        env={"PATH": tools.path, "HOME": str(checkout.parent), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def container_run(tools: Tools) -> list[str]:
    [call] = [call for call in tools.called() if call.startswith("docker run ")]
    return call.split(" ")


def test_make_test_as_a_user_other_than_root_runs_the_suite_in_a_debian_container(checkout, tools):
    result = make_test(checkout, tools, "tests/repository", "-x", as_root=False)

    assert result.returncode == 0, result.stderr
    assert "the suite ran in the container" in result.stdout
    run = " ".join(container_run(tools))
    # The image tests hand the engine paths under the checkout and the temporary
    # directory: the same paths inside as on the engine's side.
    assert f"--volume {checkout}:{checkout} --workdir {checkout}" in run
    assert f"--env TMPDIR={checkout}/.cache/test-tmp" in run
    assert "--volume /var/run/docker.sock:/var/run/docker.sock" in run
    assert "--network host" in run
    # tests/repository/test_suite_database.py makes a network namespace of its own.
    assert "--cap-add SYS_ADMIN" in run
    # Inside, scripts/test runs as on Debian, with the arguments given.
    assert "--env ITEMS_AUDIT_TEST_IN_CONTAINER=0" in run
    assert run.endswith("scripts/test tests/repository -x")


def test_make_test_can_be_sent_to_the_container_on_debian_as_root_too(checkout, tools):
    result = make_test(
        checkout, tools, "-q", as_root=True, env={"ITEMS_AUDIT_TEST_IN_CONTAINER": "1"}
    )

    assert result.returncode == 0, result.stderr
    assert container_run(tools)[-2:] == ["scripts/test", "-q"]


def test_make_test_away_from_debian_without_docker_says_what_to_install(checkout, tools):
    tools.remove("docker")

    result = make_test(checkout, tools, as_root=False)

    assert result.returncode == 1
    assert "runs in a Debian 12 container here, and docker is missing" in result.stderr
    assert "https://docs.docker.com/engine/install/" in result.stderr


def test_make_test_builds_the_container_image_when_it_is_missing(checkout, tools):
    tools.add(
        "docker",
        "  'image inspect'*) exit 1 ;;\n"
        "  'context inspect --format {{.Endpoints.docker.Host}}')"
        " echo unix:///var/run/docker.sock ;;",
    )

    result = make_test(checkout, tools, as_root=False)

    assert result.returncode == 0, result.stderr
    builds = [call for call in tools.called() if call.startswith("docker build ")]
    assert "--file scripts/test-runner.Dockerfile" in builds[0]
    assert "BASE_IMAGE=debian:12" in builds[0]
    assert builds[1].startswith("docker build --network host --tag items-audit-test/debian-python")
