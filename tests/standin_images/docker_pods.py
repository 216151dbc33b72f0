"""Containers of the rendered manifests (python -m infra.render), run in Docker on the
stand-in images as a kubelet would run them: the pod's user, group and fsGroup, a
read-only root, no capabilities, no privilege escalation, the memory limit, the
container's command, args and environment, and its volumes (emptyDirs and claims as
writable directories, ConfigMaps and Secrets as files with their modes), on a network
of their own where each pod's workload name resolves (the Services' names)."""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tests.containers.docker_cli import container_logs, docker, docker_result
from tests.support.repository_files import REPOSITORY

STAND_IN_LABEL = "items-audit.stand-in-for"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")
MEMORY_UNITS = {"Mi": "m", "Gi": "g"}


def rendered_objects(directory: Path) -> list[dict]:
    subprocess.run(
        [sys.executable, "-m", "infra.render", str(directory)],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    )
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))]


def stand_in_image(pinned: str) -> str:
    """The local stand-in built for `pinned` (e2e/pods/images/build labels it so)."""
    label = f"label={STAND_IN_LABEL}={pinned}"
    tags = docker("images", "--filter", label, "--format", "{{.Repository}}:{{.Tag}}").split()
    if not tags:
        raise AssertionError(
            f"no stand-in image for {pinned}: run e2e/pods/images/build"
            ' "$(e2e/build-tools --node --print-bin-dir)" first'
        )
    return tags[0]


@dataclass
class Manifests:
    objects: list[dict]

    def named(self, kind: str, name: str) -> dict:
        for item in self.objects:
            if item["kind"] == kind and item["metadata"]["name"] == name:
                return item
        raise KeyError(f"no {kind} {name} in the rendered manifests")

    def workload(self, name: str) -> dict:
        """The workload `name`, or `name-<hash>` (the schema Job's)."""
        workloads = [item for item in self.objects if item["kind"] in WORKLOAD_KINDS]
        for item in workloads:
            if item["metadata"]["name"] == name:
                return item
        for item in workloads:
            if item["metadata"]["name"].startswith(f"{name}-"):
                return item
        raise KeyError(f"no workload {name} in the rendered manifests")

    @staticmethod
    def pod_spec(workload: dict) -> dict:
        spec = workload["spec"]
        if workload["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        return spec["template"]["spec"]

    def secret_value(self, name: str, key: str) -> str:
        return self.named("Secret", name)["stringData"][key]


class DockerPods:
    """Containers started by `run`, on one network; `close` removes them all."""

    def __init__(self, manifests: Manifests, workdir: Path):
        self.manifests = manifests
        self.workdir = workdir
        self.prefix = f"standin-contract-{uuid.uuid4().hex[:8]}"
        self.network = self.prefix
        self.containers: list[str] = []
        docker("network", "create", self.network)

    def close(self):
        for container in self.containers:
            docker("rm", "--force", "--volumes", container, check=False)
        docker("network", "rm", self.network, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _volume_dirs(self, workload: dict, pod: dict) -> dict[str, Path]:
        """Each volume of the pod as a directory, laid out as the kubelet lays it out."""
        fs_group = pod["securityContext"]["fsGroup"]
        root = self.workdir / workload["metadata"]["name"]
        directories = {}
        claims = [t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])]
        for claim in claims:
            # local-path-provisioner's helper: mkdir -m 0777.
            directories[claim] = root / claim
            directories[claim].mkdir(parents=True)
            directories[claim].chmod(0o777)
        for volume in pod.get("volumes", []):
            path = root / volume["name"]
            path.mkdir(parents=True)
            if "emptyDir" in volume:
                os.chown(path, -1, fs_group)
                path.chmod(0o2777)
                files, mode = {}, None
            elif "configMap" in volume:
                config_map = self.manifests.named("ConfigMap", volume["configMap"]["name"])
                files, mode = config_map["data"], volume["configMap"].get("defaultMode", 0o644)
            elif "secret" in volume:
                secret = self.manifests.named("Secret", volume["secret"]["secretName"])
                files, mode = secret["stringData"], volume["secret"].get("defaultMode", 0o644)
            else:
                raise AssertionError(f"volume {volume['name']}: a kind this runner does not know")
            for name, text in files.items():
                (path / name).write_text(text)
                os.chown(path / name, 0, fs_group)
                (path / name).chmod(mode)
            if files:
                path.chmod(0o755)
            directories[volume["name"]] = path
        return directories

    def run(self, workload_name: str, container_name: str, detach: bool = True) -> "Container":
        """Start the container as its pod would; with detach=False, wait for it to exit."""
        workload = self.manifests.workload(workload_name)
        pod = Manifests.pod_spec(workload)
        container = next(c for c in pod["containers"] if c["name"] == container_name)
        directories = self._volume_dirs(workload, pod)
        pod_security, security = pod["securityContext"], container["securityContext"]
        name = f"{self.prefix}-{workload_name}-{container_name}"
        options = [
            "--name", name,
            "--network", self.network,
            "--network-alias", workload["metadata"]["name"],
            "--user", f"{pod_security['runAsUser']}:{pod_security['runAsGroup']}",
            "--group-add", str(pod_security["fsGroup"]),
        ]  # fmt: skip
        if security.get("readOnlyRootFilesystem"):
            options.append("--read-only")
        if "ALL" in security.get("capabilities", {}).get("drop", []):
            options += ["--cap-drop", "ALL"]
        if security.get("allowPrivilegeEscalation") is False:
            options += ["--security-opt", "no-new-privileges"]
        memory = container.get("resources", {}).get("limits", {}).get("memory")
        if memory:
            options += ["--memory", memory[:-2] + MEMORY_UNITS[memory[-2:]]]
        for variable in container.get("env", []):
            value = variable.get("value")
            if value is None:
                ref = variable["valueFrom"]["secretKeyRef"]
                value = self.manifests.secret_value(ref["name"], ref["key"])
            options += ["--env", f"{variable['name']}={value}"]
        for mount in container.get("volumeMounts", []):
            suffix = ":ro" if mount.get("readOnly") else ""
            options += ["--volume", f"{directories[mount['name']]}:{mount['mountPath']}{suffix}"]
        command = container.get("command", [])
        if command:
            options += ["--entrypoint", command[0]]
        arguments = [*command[1:], *container.get("args", [])]
        image = stand_in_image(container["image"])
        self.containers.append(name)
        if detach:
            docker("run", "--detach", *options, image, *arguments)
        else:
            docker("run", *options, image, *arguments, check=False, timeout=300)
        return Container(name, container)


@dataclass
class Container:
    name: str
    spec: dict

    def logs(self) -> str:
        return container_logs(self.name, "all")

    def exit_code(self) -> int:
        return int(docker("inspect", "--format", "{{.State.ExitCode}}", self.name))

    def address(self) -> str:
        networks = json.loads(
            docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", self.name)
        )
        return next(iter(networks.values()))["IPAddress"]

    def exec(self, *command: str) -> subprocess.CompletedProcess:
        return docker_result("exec", self.name, *command, timeout=30)

    def port(self, name: str) -> int:
        return next(p["containerPort"] for p in self.spec["ports"] if p["name"] == name)

    def get(self, path: str, port: str, headers: dict | None = None) -> tuple[int, bytes]:
        url = f"http://{self.address()}:{self.port(port)}{path}"
        response = requests.get(url, headers=headers, timeout=5)
        return response.status_code, response.content

    def probe(self, kind: str) -> bool:
        """One try of the container's probe `kind` (startupProbe, readinessProbe, ...)."""
        probe = self.spec[kind]
        if "exec" in probe:
            return self.exec(*probe["exec"]["command"]).returncode == 0
        action = probe["httpGet"]
        try:
            status, _ = self.get(action["path"], action["port"])
        except requests.RequestException:
            return False
        return 200 <= status < 400

    def wait_until(self, kind: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not self.probe(kind):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {kind} failed for {seconds} s:\n{self.logs()}")
            running = docker("inspect", "--format", "{{.State.Running}}", self.name)
            if running != "true":
                raise AssertionError(f"{self.name} exited:\n{self.logs()}")
            time.sleep(0.5)
