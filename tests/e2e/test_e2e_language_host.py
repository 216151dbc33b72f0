"""The tool set's Python language host (e2e/langhost, a stand-in for upstream's, which the
Go module proxy does not serve) behaves as upstream's does where a user can tell: it lists
the resource plugins the program's virtualenv declares, refuses a virtualenv that is not one
with upstream's message before the program runs, stops with its program when the engine is
gone, and stops its program and itself cleanly on SIGINT and on the engine's Cancel.

Each test runs on a small project of its own in a temporary directory (its own file backend
and PULUMI_HOME), with the tool set's CLI (or the host alone, driven over its gRPC API as the
engine drives it). The programs' virtualenv is this test run's own: it holds the SDKs
infra/requirements.txt pins (requirements-dev.txt). No cluster is needed."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from tests.support.repository_files import REPOSITORY

# The provider plugins the pinned SDKs declare in their pulumi-plugin.json (versions.env).
VERSIONS = dict(
    line.split("=", 1)
    for line in (REPOSITORY / "e2e" / "versions.env").read_text().splitlines()
    if line and not line.startswith("#")
)
DECLARED_PLUGINS = {
    name: VERSIONS[f"PULUMI_{name.upper()}_PLUGIN_VERSION"]
    for name in ("kubernetes", "docker", "random", "command")
}
# Upstream's host: SIGINT, then SIGKILL this long after if the program is still running.
STOP_GRACE = 5


def running(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def end(*pids: int) -> None:
    """Kill what a failed test left running (processes this test started)."""
    for pid in pids:
        if running(pid):
            os.kill(pid, signal.SIGKILL)


class Project:
    """A Pulumi project with a Python program, its own backend and PULUMI_HOME."""

    def __init__(self, root: Path, tools: Path, program: str, virtualenv: str = sys.prefix):
        self.directory = root / "project"
        self.directory.mkdir()
        (self.directory / "Pulumi.yaml").write_text(
            "name: language-host\n"
            "runtime:\n"
            "  name: python\n"
            "  options:\n"
            "    toolchain: pip\n"
            f"    virtualenv: {virtualenv}\n"
        )
        (self.directory / "__main__.py").write_text(program)
        self.pids = root / "pids"
        (root / "backend").mkdir()
        (root / "home").mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")},
            "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_HOME": str(root / "home"),
            "PULUMI_BACKEND_URL": f"file://{root / 'backend'}",
            "PULUMI_CONFIG_PASSPHRASE": "language-host",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PROGRAM_PIDS": str(self.pids),
        }
        self.pulumi("stack", "init", "test")

    def pulumi(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["pulumi", *arguments],
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def start(self, *arguments: str) -> subprocess.Popen:
        """A pulumi command in a session of its own, as a terminal runs it."""
        return subprocess.Popen(
            ["pulumi", *arguments],
            cwd=self.directory,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


# A program that says where it runs (its pid, and its parent's: the language host) and then
# runs until it is stopped.
RUNS_UNTIL_STOPPED = """\
import os
import pathlib
import time

import pulumi

pathlib.Path(os.environ["PROGRAM_PIDS"]).write_text(f"{os.getpid()} {os.getppid()}")
while True:
    time.sleep(0.1)
"""


def test_pulumi_about_lists_the_provider_plugins_the_programs_virtualenv_declares(tools, tmp_path):
    """The engine learns the program's plugins before it runs (upstream: each installed
    package's pulumi-plugin.json), among them docker and command, which the tool set lacks."""
    project = Project(tmp_path, tools, "import pulumi\n")

    about = json.loads(project.pulumi("about", "--json").stdout)

    plugins = {p["name"]: p["version"] for p in about["plugins"] if p["kind"] == "resource"}
    assert plugins == DECLARED_PLUGINS


def test_a_missing_virtualenv_is_made_from_the_programs_requirements_before_it_runs(
    tools, tmp_path
):
    """As upstream's host does for a plain `pulumi up` in a fresh clone: `python -m venv`,
    then pip installs the program directory's requirements.txt (from the machine's pip
    cache), then the program runs in it."""
    virtualenv = tmp_path / "venv"
    program = (
        'import os, pathlib, sys\npathlib.Path(os.environ["PROGRAM_PIDS"]).write_text(sys.prefix)\n'
    )
    project = Project(tmp_path, tools, program, virtualenv=str(virtualenv))
    sdk = f"pulumi=={VERSIONS['PULUMI_PYTHON_SDK_VERSION']}"
    (project.directory / "requirements.txt").write_text(f"{sdk}\n")
    project.env["PIP_CACHE_DIR"] = str(Path.home() / ".cache" / "pip")

    project.pulumi("preview")

    assert project.pids.read_text() == str(virtualenv)
    installed = subprocess.run(
        [virtualenv / "bin" / "python", "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sdk in installed


@pytest.mark.parametrize("made", ["a directory without an interpreter", "a file"])
def test_a_virtualenv_that_is_not_one_stops_the_preview_before_the_program_runs(
    tools, tmp_path, made
):
    virtualenv = tmp_path / "not-a-virtualenv"
    if made == "a file":
        virtualenv.write_text("")
        expected = (
            f"the 'virtualenv' option in Pulumi.yaml is set to \"{virtualenv}\""
            " but it is not a directory"
        )
    else:
        virtualenv.mkdir()
        (virtualenv / "left-over").write_text("")
        python = virtualenv / "bin" / "python"
        expected = (
            f"failed to discover package requirements: calling `{python} -m pip list"
            f" --format json`: fork/exec {python}: no such file or directory"
        )
    project = Project(tmp_path, tools, RUNS_UNTIL_STOPPED, virtualenv=str(virtualenv))

    preview = project.pulumi("preview", check=False)

    assert preview.returncode != 0
    assert expected in preview.stdout + preview.stderr
    assert not project.pids.exists(), "the program ran"


def test_the_language_host_and_its_program_stop_once_the_engine_is_gone(tools, tmp_path):
    """`pulumi up` killed outright (SIGKILL: no plugin is told): the host notices that the
    engine no longer answers its health check and stops, with its program."""
    project = Project(tmp_path, tools, RUNS_UNTIL_STOPPED)
    up = project.start("up", "--yes", "--skip-preview")
    try:
        assert wait_until(lambda: project.pids.exists() or up.poll() is not None, 120)
        assert project.pids.exists(), up.communicate()[0]
        program, host = map(int, project.pids.read_text().split())

        os.killpg(up.pid, signal.SIGKILL)
        up.wait(30)

        # The host checks the engine every 5 s; the program has STOP_GRACE to end.
        assert wait_until(lambda: not running(host), 30), "the language host is still running"
        assert not running(program), "the program is still running"
    finally:
        if project.pids.exists():
            end(*map(int, project.pids.read_text().split()))


class Host:
    """The language host alone, started as the engine starts it (its own process group, the
    engine's address as its argument) and driven over its gRPC API as the engine drives it.
    The engine here is a gRPC server that answers the host's health check as the engine
    does (no health service of its own: UNIMPLEMENTED, which the host takes as alive)."""

    def __init__(self, tools: Path):
        self.engine = grpc.server(ThreadPoolExecutor(max_workers=2))
        port = self.engine.add_insecure_port("127.0.0.1:0")
        self.engine.start()
        self.process = subprocess.Popen(
            [tools / "pulumi-language-python", f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.process.stdout.readline().strip()}")
        self.runtime = language_pb2_grpc.LanguageRuntimeStub(self.channel)

    def run_plugin(self, directory: Path, env: dict[str, str]) -> "Stream":
        """RunPlugin: how the engine runs a Python policy pack (`python DIRECTORY`), with the
        stop handling Run gives a program."""
        options = struct_pb2.Struct()
        options.update({"toolchain": "pip", "virtualenv": sys.prefix})
        request = language_pb2.RunPluginRequest(
            pwd=str(directory),
            env=[f"{k}={v}" for k, v in env.items()],
            info=language_pb2.ProgramInfo(
                root_directory=str(directory),
                program_directory=str(directory),
                entry_point=".",
                options=options,
            ),
        )
        return Stream(self.runtime.RunPlugin(request))

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.engine.stop(None)


class Stream:
    """A RunPlugin call read in the background: the program's exit code, once the host
    reports it, or the error that ended the call."""

    def __init__(self, call):
        self.exit_code: int | None = None
        self.error: grpc.RpcError | None = None
        self.done = threading.Event()

        def read():
            try:
                for response in call:
                    if response.WhichOneof("output") == "exitcode":
                        self.exit_code = response.exitcode
            except grpc.RpcError as error:
                self.error = error
            self.done.set()

        threading.Thread(target=read, daemon=True).start()


PLUGIN_PROGRAMS = {
    "stops on SIGINT": RUNS_UNTIL_STOPPED.replace("import pulumi\n", ""),
    "ignores SIGINT": RUNS_UNTIL_STOPPED.replace(
        "import pulumi\n", "import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    ),
}


def started_plugin(host: Host, tmp_path: Path, program: str) -> tuple[Stream, int]:
    directory = tmp_path / "plugin"
    directory.mkdir()
    (directory / "__main__.py").write_text(program)
    pids = tmp_path / "pids"
    stream = host.run_plugin(directory, {**os.environ, "PROGRAM_PIDS": str(pids)})
    assert wait_until(lambda: pids.exists() or stream.done.is_set(), 60), "the program never ran"
    assert pids.exists(), f"the program did not start: {stream.error}"
    return stream, int(pids.read_text().split()[0])


@pytest.mark.parametrize("program", PLUGIN_PROGRAMS)
def test_sigint_stops_the_hosts_program_and_then_the_host_which_exits_cleanly(
    tools, tmp_path, program
):
    """SIGINT to the host's process group, as the engine sends it when it closes the host:
    the program is stopped (SIGINT, SIGKILL STOP_GRACE later), its exit code is reported,
    and only then does the host stop, with exit status 0."""
    host = Host(tools)
    stream, pid = started_plugin(host, tmp_path, PLUGIN_PROGRAMS[program])
    try:
        os.killpg(host.process.pid, signal.SIGINT)

        assert wait_until(lambda: not running(pid), STOP_GRACE + 5), "the program still runs"
        assert stream.done.wait(10)
        assert stream.error is None, stream.error
        assert stream.exit_code is not None and stream.exit_code != 0
        assert host.process.wait(10) == 0, host.process.stderr.read()
    finally:
        end(pid)
        host.close()


def test_the_engines_cancel_stops_the_running_program_and_the_host_keeps_serving(tools, tmp_path):
    host = Host(tools)
    stream, pid = started_plugin(host, tmp_path, PLUGIN_PROGRAMS["stops on SIGINT"])
    try:
        host.runtime.Cancel(empty_pb2.Empty(), timeout=10)

        assert wait_until(lambda: not running(pid), STOP_GRACE + 5), "the program still runs"
        assert stream.done.wait(10)
        assert stream.error is None, stream.error
        assert stream.exit_code is not None and stream.exit_code != 0
        assert host.runtime.GetPluginInfo(empty_pb2.Empty(), timeout=10).version
        assert host.process.poll() is None
    finally:
        end(pid)
        host.close()
