"""scripts/up and scripts/down (`make up`, `make down`): every check before anything
is created, and a tool that is missing, too old or not answering, or a host port in
use, stops them with a message naming the fix, and nothing changed; a user without
any Pulumi state gets through; no error of a pulumi command is hidden.

The scripts run for real (bash, their own checks) with only the system's basic
commands on PATH; the tools they call are stand-ins that answer as the real ones do
and record every call, so that a test can say which commands ran. The Pulumi stand-in
(tests/support/pulumi_standin.py) keeps stacks in a real file:// state directory the
way the real CLI does; the e2e tier checks it against the real CLI. What the real
tools then do is the e2e tier's business (tests/e2e)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.network import free_port
from tests.support.repository_files import REPOSITORY
from tests.support.standin_commands import STRANGER_UID, Tools, fake_infra_virtualenv

SETPRIV = shutil.which("setpriv")
PASSPHRASE_COMMAND = (
    "PULUMI_CONFIG_PASSPHRASE=items-audit-dev pulumi stack output --stack dev"
    " --show-secrets grafana_admin_password"
)


@pytest.fixture
def workspace():
    """A directory every user can enter (the one without Pulumi state included),
    outside pytest's own, which only root may enter."""
    directory = Path(tempfile.mkdtemp(prefix="deploy-scripts-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.fixture
def checkout(workspace):
    """The scripts and the files they read in a tree of their own, so that nothing
    they create lands in the repository; kind/cluster.yaml publishes free ports (the
    scripts check the ones it names), and the program's virtualenv is there already
    (it is not what these tests are about)."""
    tree = workspace / "checkout"
    shutil.copytree(REPOSITORY / "scripts", tree / "scripts")
    shutil.copytree(REPOSITORY / "kind", tree / "kind")
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPOSITORY / name, tree)
    (tree / "infra").mkdir()
    shutil.copy(REPOSITORY / "infra" / "requirements.txt", tree / "infra")
    cluster = tree / "kind" / "cluster.yaml"
    text = cluster.read_text()
    for port in (8080, 3000, 9090):
        text = text.replace(f"hostPort: {port}\n", f"hostPort: {free_port()}\n")
    cluster.write_text(text)
    fake_infra_virtualenv(tree)
    return tree


@pytest.fixture
def home(workspace):
    """$HOME: not where the Pulumi CLI looks for `~` when the user database lists the
    user, which it does for the user running these tests."""
    directory = workspace / "home"
    directory.mkdir()
    return directory


@pytest.fixture
def tools(workspace):
    """A working set-up: Docker answering, kubectl, Pulumi, kind and its cluster as
    make up expects them. Each test replaces the one tool it is about."""
    tools = Tools(workspace)
    tools.add(
        "docker",
        "  info) echo 'Server Version: 29.0.0' ;;\n"
        "  'version --format {{.Server.Version}}') echo 29.0.0 ;;",
    )
    tools.add(
        "kubectl",
        """  'version -o json') echo '{"serverVersion": {"major": "1", "minor": "36"}}' ;;""",
    )
    tools.add_pulumi_standin()
    tools.add(
        "kind",
        "  version) echo 'kind v0.32.0 go1.25.4 linux/amd64' ;;\n"
        "  'get clusters') echo items-audit ;;",
    )
    return tools


def run(
    checkout: Path,
    tools: Tools,
    script: str,
    home: Path,
    uid: int | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """The script as a user runs it; as another uid (who then owns the workspace)
    when given."""
    command = ["bash", str(checkout / "scripts" / script)]
    if uid is not None:
        subprocess.run(["chown", "-R", f"{uid}:{uid}", str(checkout.parent)], check=True)
        command = [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]
    return subprocess.run(
        command,
        env={"PATH": tools.path, "HOME": str(home), "USER": "reviewer", **(env or {})},
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


def state_directory_for_this_user() -> Path:
    """Where the Pulumi CLI puts Pulumi.yaml's `file://~/.pulumi-local` for the user
    running the tests (os/user: the user database's home)."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pulumi-local"


def test_make_up_for_a_user_without_any_pulumi_state_creates_the_state_and_the_stack(
    checkout, tools, home
):
    """A new user: no state directory. The CLI refuses a file:// backend whose
    directory does not exist, so make up must create the one the CLI resolves (here
    $HOME's, the user database not listing the user)."""
    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    state = home / ".pulumi-local"
    assert f"==> creating the Pulumi state directory {state}" in result.stdout
    assert (state / ".pulumi" / "stacks" / "items-audit" / "dev.json").is_file()
    assert changes(tools) == [
        "pulumi stack init dev",
        "pulumi up --yes --refresh --skip-preview --stack dev",
    ]


def test_make_up_finds_the_state_where_the_cli_does_not_under_home(checkout, home):
    """The CLI expands `~` to the OS user's home (Go's os/user), not to $HOME; the
    script must create the directory the CLI will open."""
    result = subprocess.run(
        ["bash", "-c", "source scripts/common.sh && state_directory"],
        cwd=checkout,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == str(state_directory_for_this_user())
    assert str(home) not in result.stdout


def test_make_up_with_the_state_in_place_selects_the_stack_and_creates_nothing_more(
    checkout, tools, home
):
    first = run(checkout, tools, "up", home, uid=STRANGER_UID)
    assert first.returncode == 0, first.stderr
    tools.calls.write_text("")

    second = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert second.returncode == 0, second.stderr
    assert "creating" not in second.stdout
    assert "pulumi stack select dev" in tools.called()
    assert changes(tools) == ["pulumi up --yes --refresh --skip-preview --stack dev"]


def test_make_up_shows_the_error_of_a_pulumi_command_and_stops(checkout, tools, home):
    message = "error: failed to load checkpoint: permission denied"
    tools.add(
        "pulumi",
        "  version) echo v3.274.0 ;;\n"
        f"  'stack ls --json' | 'stack select dev') echo '{message}' >&2; exit 1 ;;",
    )
    (home / ".pulumi-local").mkdir()

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode != 0
    assert message in result.stderr
    assert changes(tools) == []


def test_make_up_prints_the_grafana_password_command_with_the_passphrase_it_needs(
    checkout, tools, home
):
    default = run(checkout, tools, "up", home, uid=STRANGER_UID)
    own = run(
        checkout, tools, "up", home, uid=STRANGER_UID, env={"PULUMI_CONFIG_PASSPHRASE": "mine"}
    )

    assert default.returncode == 0, default.stderr
    assert PASSPHRASE_COMMAND in default.stdout
    assert own.returncode == 0, own.stderr
    assert "PULUMI_CONFIG_PASSPHRASE='<the passphrase you set>' pulumi stack output" in own.stdout
    assert "mine" not in own.stdout


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
            "  version) echo v3.200.0 ;;",
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
        (
            "docker",
            "  'version --format {{.Server.Version}}') echo 20.10.24+dfsg1 ;;",
            "the Docker engine is 20.10.24+dfsg1: make up needs Docker Engine 24.0 or newer",
        ),
    ],
    ids=[
        "kind too old",
        "pulumi too old",
        "python too old",
        "docker engine not answering",
        "docker engine too old",
    ],
)
def test_make_up_names_the_tool_it_cannot_use_and_changes_nothing(
    checkout, tools, home, tool, cases, message
):
    tools.add(tool, cases)

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert message in result.stderr
    assert changes(tools) == []
    assert not (home / ".pulumi-local").exists()


@pytest.mark.parametrize("tool", ["docker", "kubectl", "pulumi", "python3", "kind"])
def test_make_up_names_a_missing_tool_and_where_to_get_it(checkout, tools, home, tool):
    if tool == "python3":
        (tools.bin.parent / "system" / "python3").unlink()
    else:
        tools.remove(tool)

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert f"missing prerequisite: {tool}. Install" in result.stderr
    assert "https://" in result.stderr
    assert changes(tools) == []
    assert not (home / ".pulumi-local").exists()


def test_make_up_on_another_cluster_needs_kubectl_too(checkout, tools, home):
    stack_file = checkout / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "items-audit:cluster: kind", "items-audit:cluster: docker-desktop"
        )
    )
    tools.remove("kubectl")
    tools.remove("kind")

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert "missing prerequisite: kubectl" in result.stderr
    assert changes(tools) == []


def test_make_up_names_the_host_ports_in_use_and_how_to_find_who_holds_them(checkout, tools, home):
    """Before the kind cluster is created: kind would fail half-way, with a cluster
    left behind."""
    tools.add("kind", "  version) echo 'kind v0.32.0 go1.25.4 linux/amd64' ;;")
    cluster = checkout / "kind" / "cluster.yaml"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        text = cluster.read_text()
        first = text.index("hostPort: ") + len("hostPort: ")
        end = text.index("\n", first)
        cluster.write_text(f"{text[:first]}{port}{text[end:]}")

        result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert f"host ports that are in use: 127.0.0.1:{port} (kind/cluster.yaml)" in result.stderr
    assert f"lsof -nP -iTCP:{port} -sTCP:LISTEN" in result.stderr
    assert f"ss -ltnp 'sport = :{port}'" in result.stderr
    assert changes(tools) == []
    assert not (home / ".pulumi-local").exists()


def test_make_up_checks_the_ports_only_for_a_cluster_it_creates(checkout, tools, home):
    """The running kind cluster holds its own ports."""
    cluster = checkout / "kind" / "cluster.yaml"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        text = cluster.read_text()
        first = text.index("hostPort: ") + len("hostPort: ")
        end = text.index("\n", first)
        cluster.write_text(f"{text[:first]}{holder.getsockname()[1]}{text[end:]}")

        result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr


def test_the_scripts_check_the_host_ports_the_kind_cluster_publishes():
    result = subprocess.run(
        ["bash", "-c", "source scripts/common.sh && kind_host_ports"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == ["127.0.0.1 8080", "127.0.0.1 3000", "127.0.0.1 9090"]


def test_make_up_refuses_a_cluster_older_than_the_pods_need(checkout, tools, home):
    stack_file = checkout / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "items-audit:cluster: kind", "items-audit:cluster: docker-desktop"
        )
    )
    tools.add(
        "kubectl",
        """  'version -o json') echo '{"serverVersion": {"major": "1", "minor": "29+"}}' ;;""",
    )

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert "the cluster runs Kubernetes 1.29: the stack needs 1.30 or newer" in result.stderr
    assert changes(tools) == []
    assert not (home / ".pulumi-local").exists()


def test_make_up_stops_when_kubectl_cannot_reach_another_cluster(checkout, tools, home):
    stack_file = checkout / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace(
            "items-audit:cluster: kind", "items-audit:cluster: docker-desktop"
        )
    )
    refused = "The connection to the server 127.0.0.1:6443 was refused"
    tools.add("kubectl", f"  'version -o json') echo '{refused}' >&2; exit 1 ;;")

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert refused in result.stderr
    assert "kubectl cannot reach the cluster" in result.stderr
    assert changes(tools) == []


def deployed(checkout, tools, home) -> None:
    """The stack as `make up` leaves it."""
    result = run(checkout, tools, "up", home, uid=STRANGER_UID)
    assert result.returncode == 0, result.stderr
    tools.calls.write_text("")


def test_make_down_with_the_docker_engine_stopped_stops_and_keeps_the_state(checkout, tools, home):
    deployed(checkout, tools, home)
    tools.add("docker", "  info) echo 'Cannot connect to the Docker daemon' >&2; exit 1 ;;")
    tools.add("kind", "  'get clusters') echo 'No kind clusters found.' >&2 ;;")

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert "the Docker engine does not answer" in result.stderr
    assert changes(tools) == []


def test_make_down_without_the_docker_cli_names_it_and_keeps_the_state(checkout, tools, home):
    deployed(checkout, tools, home)
    tools.remove("docker")

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert "missing prerequisite: docker." in result.stderr
    assert changes(tools) == []


def test_make_down_stops_when_kind_cannot_list_its_clusters(checkout, tools, home):
    deployed(checkout, tools, home)
    tools.add("kind", "  'get clusters') echo 'permission denied' >&2; exit 1 ;;")

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 1
    assert "kind could not list its clusters: permission denied" in result.stderr
    assert changes(tools) == []


def test_make_down_destroys_the_stack_then_deletes_the_cluster(checkout, tools, home):
    deployed(checkout, tools, home)

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    assert changes(tools) == [
        "pulumi state unprotect --all --yes --stack dev",
        "pulumi destroy --yes --skip-preview --stack dev",
        "kind delete cluster --name items-audit",
    ]


def test_make_down_asks_the_backend_for_its_stacks_once(checkout, tools, home):
    """Each listing is a round trip to the backend (Pulumi Cloud, a bucket)."""
    deployed(checkout, tools, home)

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    assert tools.called().count("pulumi stack ls --json") == 1


def test_make_down_after_the_cluster_was_deleted_forgets_the_state_but_keeps_the_settings(
    checkout, tools, home
):
    deployed(checkout, tools, home)
    tools.add("kind", "  'get clusters') echo 'No kind clusters found.' >&2 ;;")

    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    assert changes(tools) == ["pulumi stack rm --yes --force --preserve-config dev"]


def test_make_down_without_any_pulumi_state_deletes_only_the_cluster(checkout, tools, home):
    result = run(checkout, tools, "down", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    assert changes(tools) == ["kind delete cluster --name items-audit"]
    assert not (home / ".pulumi-local").exists()


def test_make_up_deploying_images_ci_built_to_another_cluster_needs_no_docker(
    checkout, tools, home
):
    stack_file = checkout / "Pulumi.dev.yaml"
    digest = "@sha256:" + "0" * 64
    stack_file.write_text(
        stack_file.read_text().replace(
            "items-audit:cluster: kind",
            "items-audit:cluster: remote\n"
            "  items-audit:image_registry: registry.example\n"
            f"  items-audit:items_image: registry.example/items-service{digest}\n"
            f"  items-audit:audit_image: registry.example/audit-service{digest}",
        )
    )
    tools.remove("docker")
    tools.remove("kind")

    result = run(checkout, tools, "up", home, uid=STRANGER_UID)

    assert result.returncode == 0, result.stderr
    assert changes(tools) == [
        "pulumi stack init dev",
        "pulumi up --yes --refresh --skip-preview --stack dev",
    ]


def test_make_up_with_another_passphrase_than_the_dev_stack_file_s_says_which_to_use(
    checkout, tools, home
):
    """The CLI refuses to create the dev stack from Pulumi.dev.yaml with another
    passphrase than the one its salt is for (tests/e2e checks the real CLI does)."""
    refused = "error: could not create secrets manager for new stack: incorrect passphrase"
    tools.add(
        "pulumi",
        "  version) echo v3.274.0 ;;\n"
        "  'stack ls --json') echo '[]' ;;\n"
        f"  'stack init dev') echo '{refused}' >&2; exit 1 ;;",
    )
    (home / ".pulumi-local").mkdir()

    result = run(
        checkout, tools, "up", home, uid=STRANGER_UID, env={"PULUMI_CONFIG_PASSPHRASE": "mine"}
    )

    assert result.returncode == 1
    assert refused in result.stderr
    assert "export that as PULUMI_CONFIG_PASSPHRASE, or use a stack of your own" in result.stderr
    assert "PULUMI_STACK=mine make up" in result.stderr
    assert changes(tools) == ["pulumi stack init dev"]
