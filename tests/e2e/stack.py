"""The e2e stack: the repository's Pulumi program driven by the real Pulumi CLI
through scripts/up and scripts/down (what `make up` and `make down` run), with a
state directory and passphrase of its own and prebuilt images, against the
simulated cluster e2e/cluster-up starts, with the tool set e2e/build-tools built.
The CLI runs in a copy of the clone, so that the tests can change code and
migrations there and the developer's tree stays as it is."""

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.repository_files import REPOSITORY, repository_files

STACK = "e2e"
PASSPHRASE = "items-audit-e2e"  # noqa: S105 (the throwaway stack's passphrase)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "items-audit"
KUBECONFIG = CACHE / "e2e-cluster" / "kubeconfig"
CONTEXT = "items-audit-e2e"
NAMESPACE = "items-audit"
# The schema Jobs' label: the audit-retention CronJob makes Jobs of its own every hour.
SCHEMA_JOBS = "app.kubernetes.io/name=postgres-schema"
# Every kind the program creates, as kubectl names them.
LIVE_KINDS = (
    "namespaces",
    "secrets",
    "configmaps",
    "services",
    "deployments.apps",
    "statefulsets.apps",
    "jobs.batch",
    "cronjobs.batch",
    "poddisruptionbudgets.policy",
    "networkpolicies.networking.k8s.io",
    "serviceaccounts",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
)


def tools_bin() -> Path:
    result = subprocess.run(
        [REPOSITORY / "e2e" / "build-tools", "--print-bin-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError("the e2e tools are not built: run e2e/build-tools (make e2e does)")
    return Path(result.stdout.strip())


def copy_of_the_clone(destination: Path) -> Path:
    """The repository's files as they are in the working tree (tracked, and new ones
    not ignored), without build products, virtualenvs or stack files."""
    for name in repository_files():
        source, target = REPOSITORY / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)
    return destination


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


@dataclass
class Running:
    """A command started in the background."""

    arguments: list[str]
    process: subprocess.Popen

    def wait_for_result(self, timeout: float) -> Command:
        stdout, stderr = self.process.communicate(timeout=timeout)
        return Command(self.arguments, self.process.returncode, stdout, stderr)


@dataclass
class E2EStack:
    clone: Path  # where the CLI runs: a copy of the repository
    backend: Path  # the file backend's directory, this run's own
    bin: Path

    @property
    def env(self) -> dict[str, str]:
        """What a user of `make up` has in a shell, plus the tool set on PATH and its
        plugin cache; nothing is downloaded."""
        return {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "PULUMI_HOME": str(self.bin.parent / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{self.backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_STACK": STACK,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "KUBECONFIG": str(KUBECONFIG),
        }

    def run(
        self,
        *arguments,
        timeout: float = 1800,
        env: dict | None = None,
        input_text: str | None = None,
    ) -> Command:
        words = [str(argument) for argument in arguments]
        result = subprocess.run(
            words,
            cwd=self.clone,
            env=self.env if env is None else env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Command(words, result.returncode, result.stdout, result.stderr)

    def run_in_background(self, *arguments) -> Running:
        words = [str(argument) for argument in arguments]
        process = subprocess.Popen(
            words,
            cwd=self.clone,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return Running(words, process)

    def pulumi(self, *arguments, timeout: float = 1800) -> Command:
        return self.run("pulumi", *arguments, "--stack", STACK, timeout=timeout)

    def up(self) -> Command:
        """`make up`."""
        return self.run("scripts/up")

    def down(self) -> Command:
        """`make down`."""
        return self.run("scripts/down")

    def kubectl(self, *arguments, timeout: float = 120, input_text: str | None = None) -> Command:
        return self.run(
            "kubectl",
            "--kubeconfig",
            KUBECONFIG,
            "--context",
            CONTEXT,
            *arguments,
            timeout=timeout,
            input_text=input_text,
        )

    def output(self, name: str, *flags: str) -> str:
        return self.pulumi("stack", "output", name, *flags).check().stdout.strip()

    def preview_steps(self, *flags: str) -> list[dict]:
        """`pulumi preview --json`'s steps: what the next update would do, per resource."""
        result = self.pulumi("preview", "--json", *flags).check()
        return json.loads(result.stdout).get("steps", [])

    def state_resources(self) -> list[dict]:
        exported = json.loads(self.pulumi("stack", "export").check().stdout)
        return exported["deployment"].get("resources") or []

    def live(self) -> list[dict]:
        """Every object of the stack in the cluster: those labelled as its part, and
        the namespace; not the Jobs the retention CronJob starts on its schedule."""
        result = self.kubectl(
            "get",
            ",".join(LIVE_KINDS),
            "--all-namespaces",
            "--selector=app.kubernetes.io/part-of=items-audit",
            "--output=json",
        ).check()
        return [
            item
            for item in json.loads(result.stdout)["items"]
            if not any(
                owner["kind"] == "CronJob" for owner in item["metadata"].get("ownerReferences", [])
            )
        ]

    def namespace_exists(self) -> bool:
        return self.kubectl("get", "namespace", NAMESPACE).returncode == 0
