"""The e2e stack: the repository's Pulumi program driven by the real Pulumi CLI
through scripts/up and scripts/down themselves (what `make up` and `make down` run),
on the path a user's laptop takes: a copy of the clone, HOME a directory of its own,
no PULUMI_BACKEND_URL (so the state goes where Pulumi.yaml's backend says,
file://~/.pulumi-local, which the CLI resolves from the OS user's passwd entry, not
from $HOME), no PULUMI_CONFIG_PASSPHRASE (scripts/up's default), the stack created by
scripts/up's own `pulumi stack init`.

The stack is `e2e`, never `dev`: the user's backend is the developer's own, and their
dev stack in it is left alone. The CLI runs in a copy of the clone, so that the tests
can change code and migrations there and the developer's tree stays as it is. What is
not the user's: the tool set's plugin cache (PULUMI_HOME: nothing is downloaded), and
the simulated cluster e2e/cluster-up starts."""

import json
import os
import pwd
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support.repository_files import REPOSITORY, repository_files

STACK = "e2e"
PROJECT = "items-audit"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "items-audit"
KUBECONFIG = CACHE / "e2e-cluster" / "kubeconfig"
CONTEXT = "items-audit-e2e"
NAMESPACE = "items-audit"
# The schema Jobs' label: the audit-retention CronJob makes Jobs of its own every hour.
SCHEMA_JOBS = "app.kubernetes.io/name=postgres-schema"
# The passphrase scripts/up uses when none is set, and prints for the user to export.
DEFAULT_PASSPHRASE = re.search(
    r"^readonly DEFAULT_PASSPHRASE=(\S+)$",
    (REPOSITORY / "scripts" / "common.sh").read_text(),
    re.MULTILINE,
)[1]
# Kinds whose objects are records of what happened, not objects anyone declared.
RECORD_KINDS = ("Event",)


def user_home() -> Path:
    """The home directory the Pulumi CLI expands `~` to (Go's os/user: the passwd entry)."""
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def backend_directory() -> Path:
    """The state directory of Pulumi.yaml's backend, as the CLI resolves it."""
    url = yaml.safe_load((REPOSITORY / "Pulumi.yaml").read_text())["backend"]["url"]
    path = url.removeprefix("file://")
    assert path.startswith("~/"), f"Pulumi.yaml's backend is {url}: the e2e tier expects ~/..."
    return user_home() / path.removeprefix("~/")


def state_file(backend: Path, stack: str = STACK) -> Path:
    """Where the file backend keeps the stack's state (one file per project and stack)."""
    return backend / ".pulumi" / "stacks" / PROJECT / f"{stack}.json"


def tools_bin(node: bool = False) -> Path:
    """The tool set's bin directory (e2e/build-tools --print-bin-dir); with `node`, the
    set must hold the real node's parts too (--node)."""
    flags = ["--node"] if node else []
    result = subprocess.run(
        [REPOSITORY / "e2e" / "build-tools", *flags, "--print-bin-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        build = " ".join(["e2e/build-tools", *flags])
        raise RuntimeError(
            f"the e2e tools are not built: run {build} (make e2e{'-pods' if node else ''} does)"
        )
    return Path(result.stdout.strip())


def copy_of_the_clone(destination: Path) -> Path:
    """The repository's files as they are in the working tree (tracked, and new ones
    not ignored), without build products, virtualenvs or untracked stack files."""
    for name in repository_files():
        source, target = REPOSITORY / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)
    return destination


def write_stack_settings(clone: Path, settings: dict[str, str], stack: str = STACK) -> Path:
    """Pulumi.e2e.yaml with the stack's settings, before the stack exists: the way
    Pulumi.dev.yaml holds the dev stack's (`pulumi config set` needs an existing stack;
    scripts/up reads a stack's settings from this file until it creates the stack, and
    the CLI adds the encryption salt to it then)."""
    path = clone / f"Pulumi.{stack}.yaml"
    config = {f"{PROJECT}:{key}": value for key, value in settings.items()}
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def without_scheduled_runs(objects: list[dict]) -> list[dict]:
    """The objects but those a CronJob made (its Jobs, and their pods)."""
    scheduled = {item["metadata"]["uid"] for item in objects if item["kind"] == "CronJob"}
    while True:
        found = {
            item["metadata"]["uid"]
            for item in objects
            if item["metadata"]["uid"] not in scheduled
            and any(o["uid"] in scheduled for o in item["metadata"].get("ownerReferences", []))
        }
        if not found:
            break
        scheduled |= found
    return [
        item
        for item in objects
        if item["kind"] == "CronJob" or item["metadata"]["uid"] not in scheduled
    ]


@dataclass
class Command:
    arguments: list[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> "Command":
        if self.returncode != 0:
            raise AssertionError(
                f"{' '.join(self.arguments)} exited {self.returncode}\n"
                f"--- stdout\n{self.stdout[-8000:]}\n--- stderr\n{self.stderr[-8000:]}"
            )
        return self

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Running:
    """A command started in the background, in a process group of its own (as a
    terminal runs a foreground command)."""

    arguments: list[str]
    process: subprocess.Popen

    def interrupt(self) -> None:
        """Ctrl-C: SIGINT to every process of the group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait_for_result(self, timeout: float) -> Command:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return Command(self.arguments, self.process.returncode, stdout, stderr)


@dataclass
class E2EStack:
    clone: Path  # where the commands run: a copy of the repository
    home: Path  # the user's $HOME: a directory of its own
    bin: Path  # the tool set
    name: str = STACK
    kubeconfig: Path = KUBECONFIG  # the cluster the tier runs on
    context: str = CONTEXT
    _kinds: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """A user's shell: their environment without any Pulumi or Kubernetes setting,
        HOME their own, the tool set on PATH with its plugin cache, and the stack name
        (PULUMI_STACK: scripts/up and scripts/down take it)."""
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PULUMI_") and key != "KUBECONFIG"
        }
        return {
            **inherited,
            "HOME": str(self.home),
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_HOME": str(self.bin.parent / "pulumi-home"),
            "PULUMI_STACK": self.name,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            # The machine's pip cache: the program's packages are not downloaded again.
            "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        }

    @property
    def user_env(self) -> dict[str, str]:
        """The shell after `make up`: it tells the user to export the passphrase for
        pulumi commands of their own."""
        return {**self.env, "PULUMI_CONFIG_PASSPHRASE": DEFAULT_PASSPHRASE}

    def run(
        self,
        *arguments,
        timeout: float = 1800,
        env: dict | None = None,
        input_text: str | None = None,
        cwd: Path | None = None,
    ) -> Command:
        words = [str(argument) for argument in arguments]
        result = subprocess.run(
            words,
            cwd=cwd or self.clone,
            env=self.env if env is None else env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Command(words, result.returncode, result.stdout, result.stderr)

    def run_in_background(self, *arguments, cwd: Path | None = None) -> Running:
        words = [str(argument) for argument in arguments]
        process = subprocess.Popen(
            words,
            cwd=cwd or self.clone,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        return Running(words, process)

    def pulumi(self, *arguments, timeout: float = 1800) -> Command:
        """A pulumi command of the user's own, in the clone, on the stack."""
        return self.run(
            "pulumi", *arguments, "--stack", self.name, timeout=timeout, env=self.user_env
        )

    def up(self, clone: Path | None = None) -> Command:
        """`make up` (of another clone: an older release)."""
        return self.run((clone or self.clone) / "scripts" / "up", cwd=clone)

    def down(self) -> Command:
        """`make down`."""
        return self.run("scripts/down")

    def schema_jobs(self) -> list[str]:
        """The schema Jobs' names (the retention CronJob's hourly Jobs are not counted)."""
        result = self.kubectl(
            "get",
            "jobs",
            "-n",
            NAMESPACE,
            "-l",
            SCHEMA_JOBS,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ).check()
        return result.stdout.split()

    def kubectl(self, *arguments, timeout: float = 120, input_text: str | None = None) -> Command:
        return self.run(
            "kubectl",
            "--kubeconfig",
            self.kubeconfig,
            "--context",
            self.context,
            *arguments,
            timeout=timeout,
            input_text=input_text,
        )

    def kubectl_json(self, *arguments) -> dict:
        """kubectl's answer as JSON (none, with --ignore-not-found and nothing found)."""
        answer = self.kubectl(*arguments, "--output=json").check().stdout
        return json.loads(answer) if answer.strip() else {}

    def output(self, name: str, *flags: str) -> str:
        return self.pulumi("stack", "output", name, *flags).check().stdout.strip()

    def preview_steps(self, *flags: str) -> list[dict]:
        """`pulumi preview --json`'s steps: what the next update would do, per resource."""
        result = self.pulumi("preview", "--json", *flags).check()
        return json.loads(result.stdout).get("steps", [])

    def drift(self) -> Command:
        """`pulumi preview --refresh --expect-no-changes`: non-zero when the cluster or
        the program differs from the state."""
        return self.pulumi("preview", "--refresh", "--expect-no-changes", "--diff")

    def exported(self) -> dict:
        """`pulumi stack export` (secrets stay encrypted)."""
        return json.loads(self.pulumi("stack", "export").check().stdout)

    def state_resources(self) -> list[dict]:
        return self.exported()["deployment"].get("resources") or []

    def namespaced_kinds(self) -> list[str]:
        """Every kind of object a namespace can hold that can be listed."""
        if not self._kinds:
            listed = self.kubectl(
                "api-resources", "--namespaced=true", "--verbs=list", "--output=name"
            ).check()
            self._kinds.extend(sorted(listed.stdout.split()))
        return self._kinds

    def namespace_objects(self) -> list[dict]:
        """Every object in the stack's namespace, whoever made it (events left out)."""
        listed = self.kubectl_json(
            "get", ",".join(self.namespaced_kinds()), "--namespace", NAMESPACE, "--ignore-not-found"
        )
        return [item for item in listed.get("items", []) if item["kind"] not in RECORD_KINDS]

    def stack_cluster_objects(self) -> list[dict]:
        """The objects outside any namespace that belong to the stack: its namespace, and
        the volumes bound to the namespace's claims."""
        namespaces = self.kubectl_json("get", "namespaces")["items"]
        volumes = self.kubectl_json("get", "persistentvolumes")["items"]
        return [
            *(item for item in namespaces if item["metadata"]["name"] == NAMESPACE),
            *(
                item
                for item in volumes
                if (item["spec"].get("claimRef") or {}).get("namespace") == NAMESPACE
            ),
        ]

    def everything(self) -> list[dict]:
        """Every object of the stack in the cluster, and every object made from them, but
        the runs the retention CronJob starts on its schedule (they come with the clock)."""
        return without_scheduled_runs([*self.stack_cluster_objects(), *self.namespace_objects()])

    def namespace_exists(self) -> bool:
        return self.kubectl("get", "namespace", NAMESPACE).returncode == 0

    def health(self) -> list[str]:
        """What is not healthy in the cluster: the node not Ready, a pod of the namespace
        not Ready (finished Job pods aside), a workload short of ready replicas."""
        problems = []
        for node in self.kubectl_json("get", "nodes")["items"]:
            ready = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
            if ready.get("Ready") != "True":
                problems.append(f"node {node['metadata']['name']} is not Ready")
            if node["spec"].get("taints"):
                problems.append(f"node {node['metadata']['name']} is tainted")
        for pod in self.kubectl_json("get", "pods", "--namespace", NAMESPACE)["items"]:
            phase = pod["status"].get("phase")
            ready = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
            if phase != "Succeeded" and ready.get("Ready") != "True":
                problems.append(f"pod {pod['metadata']['name']} is {phase}, not Ready")
        for kind in ("deployments", "statefulsets"):
            for workload in self.kubectl_json("get", kind, "--namespace", NAMESPACE)["items"]:
                wanted = workload["spec"].get("replicas", 1)
                if workload["status"].get("readyReplicas", 0) != wanted:
                    problems.append(
                        f"{kind} {workload['metadata']['name']}:"
                        f" {workload['status'].get('readyReplicas', 0)}/{wanted} ready"
                    )
        return problems
