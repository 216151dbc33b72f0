"""scripts/up and scripts/down (`make up`, `make down`) before they change anything:
every tool they depend on is asked first, and a tool that is missing, too old or
not answering stops them with a message naming it, and nothing changed.

The scripts run for real (bash, their own checks); the tools they call are
stand-ins on PATH that answer as the real ones do and record every call, so that
a test can say which commands ran. What the real tools then do is the e2e tier's
business (tests/e2e)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.repository.stand_in_tools import Tools
from tests.support.repository_files import REPOSITORY


@pytest.fixture
def checkout(tmp_path):
    """The scripts in a tree of their own, so that nothing they might create lands
    in the repository."""
    tree = tmp_path / "checkout"
    shutil.copytree(REPOSITORY / "scripts", tree / "scripts")
    shutil.copytree(REPOSITORY / "kind", tree / "kind")
    (tree / "infra").mkdir()
    shutil.copy(REPOSITORY / "infra" / "requirements.txt", tree / "infra")
    return tree


@pytest.fixture
def tools(tmp_path):
    """A working set-up: Docker answering, Pulumi, kind and the stack as make up
    expects them. Each test replaces the one tool it is about."""
    tools = Tools(tmp_path)
    tools.add("docker", "  info) echo 'Server Version: 29.0.0' ;;")
    tools.add(
        "pulumi",
        "  version) echo v3.274.0 ;;\n"
        "  'config get --stack dev'*) exit 1 ;;\n"  # nothing set: the defaults
        "  'stack output'*) echo http://localhost:30080 ;;",
    )
    tools.add(
        "kind",
        "  version) echo 'kind v0.32.0 go1.25.4 linux/amd64' ;;\n"
        "  'get clusters') echo items-audit ;;",
    )
    return tools


def run(checkout: Path, tools: Tools, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / script)],
        env={"PATH": f"{tools.bin}:/usr/bin:/bin", "HOME": str(checkout)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def changes(tools: Tools) -> list[str]:
    """The calls that change a stack, its state or a cluster."""
    changing = ("pulumi up", "pulumi destroy", "pulumi stack rm", "pulumi stack init")
    changing += ("pulumi state", "kind create", "kind delete")
    return [call for call in tools.called() if call.startswith(changing)]


def test_make_down_with_the_docker_engine_stopped_stops_and_keeps_the_state(checkout, tools):
    tools.add("docker", "  info) echo 'Cannot connect to the Docker daemon' >&2; exit 1 ;;")
    tools.add("kind", "  'get clusters') echo 'No kind clusters found.' >&2 ;;")

    result = run(checkout, tools, "down")

    assert result.returncode == 1
    assert "the Docker engine does not answer" in result.stderr
    assert changes(tools) == []


def test_make_down_stops_when_kind_cannot_list_its_clusters(checkout, tools):
    tools.add("kind", "  'get clusters') echo 'permission denied' >&2; exit 1 ;;")

    result = run(checkout, tools, "down")

    assert result.returncode == 1
    assert "kind could not list its clusters: permission denied" in result.stderr
    assert changes(tools) == []


def test_make_down_destroys_the_stack_then_deletes_the_cluster(checkout, tools):
    result = run(checkout, tools, "down")

    assert result.returncode == 0, result.stderr
    assert changes(tools) == [
        "pulumi state unprotect --all --yes --stack dev",
        "pulumi destroy --yes --skip-preview --stack dev",
        "kind delete cluster --name items-audit",
    ]


def test_make_down_after_the_cluster_was_deleted_forgets_the_state_but_keeps_the_settings(
    checkout, tools
):
    tools.add("kind", "  'get clusters') echo 'No kind clusters found.' >&2 ;;")

    result = run(checkout, tools, "down")

    assert result.returncode == 0, result.stderr
    assert changes(tools) == ["pulumi stack rm --yes --force --preserve-config dev"]


@pytest.mark.parametrize(
    "tool, cases, message",
    [
        (
            "kind",
            "  version) echo 'kind v0.29.0 go1.24.2 linux/amd64' ;;\n  'get clusters') ;;",
            "kind is 0.29.0: make up needs kind 0.32.0 or newer",
        ),
        (
            "pulumi",
            "  version) echo v3.200.0 ;;\n  'config get'*) exit 1 ;;",
            "the Pulumi CLI is 3.200.0: make up needs 3.272.0 or newer",
        ),
        (
            "python3",
            "  -c*) echo 3.9 ;;",
            "python3 is Python 3.9: the Pulumi program needs Python 3.11 or newer",
        ),
        (
            "docker",
            "  info) echo 'permission denied while trying to connect' >&2; exit 1 ;;",
            "the Docker engine does not answer",
        ),
    ],
    ids=["kind too old", "pulumi too old", "python too old", "docker engine not answering"],
)
def test_make_up_names_the_tool_it_cannot_use_and_changes_nothing(
    checkout, tools, tool, cases, message
):
    tools.add(tool, cases)

    result = run(checkout, tools, "up")

    assert result.returncode == 1
    assert message in result.stderr
    assert changes(tools) == []
    assert not (checkout / ".venv-infra").exists()


def test_make_up_refuses_a_cluster_older_than_the_pods_need(checkout, tools):
    tools.add(
        "pulumi",
        "  version) echo v3.274.0 ;;\n"
        "  'config get --stack dev cluster') echo docker-desktop ;;\n"
        "  'config get'*) exit 1 ;;",
    )
    tools.add(
        "kubectl",
        """  'version -o json') echo '{"serverVersion": {"major": "1", "minor": "29+"}}' ;;""",
    )

    result = run(checkout, tools, "up")

    assert result.returncode == 1
    assert "the cluster runs Kubernetes 1.29: the stack needs 1.30 or newer" in result.stderr
    assert changes(tools) == []
    assert not (checkout / ".venv-infra").exists()
