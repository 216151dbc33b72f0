"""What the real-node tier looks at beyond kubectl: the PostgreSQL of the stack (psql in
its pod, as an operator would), the node's container runtime, and its volumes directory."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.stack import CACHE, NAMESPACE, Command, E2EStack

NODE_STATE = CACHE / "e2e-node"
CONTAINERD_SOCKET = NODE_STATE / "containerd" / "containerd.sock"
VOLUMES = NODE_STATE / "volumes"
DATABASE = "itemsdb"
SUPERUSER = "postgres"


@dataclass
class Node:
    stack: E2EStack

    def in_postgres(self, *command: str, input_text: str | None = None) -> Command:
        """A command run in the postgres pod's container, as `kubectl exec` runs it."""
        return self.stack.kubectl(
            "exec",
            "--stdin",
            "--namespace",
            NAMESPACE,
            "postgres-0",
            "--container",
            "postgres",
            "--",
            *command,
            input_text=input_text,
        )

    def psql(self, sql: str, **variables: str) -> list[list[str]]:
        """Rows of a query run by psql in the postgres pod (its local socket, as the
        superuser), each a list of column values; `variables` are psql variables the
        query quotes as :'name'."""
        settings = [f"--set={name}={value}" for name, value in variables.items()]
        result = self.in_postgres(
            "psql",
            "--username",
            SUPERUSER,
            "--dbname",
            DATABASE,
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "--field-separator=|",
            "--set=ON_ERROR_STOP=1",
            *settings,
            "--file=-",
            input_text=sql,
        ).check()
        return [line.split("|") for line in result.stdout.splitlines() if line]

    def ctr(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        """ctr against the node's containerd, in the CRI's namespace."""
        return subprocess.run(
            [
                str(self.stack.bin / "ctr"),
                "--address",
                str(CONTAINERD_SOCKET),
                "--namespace",
                "k8s.io",
                *arguments,
            ],
            capture_output=True,
            text=True,
            check=check,
        )

    def containers(self) -> list[dict]:
        """The containers the node's runtime holds (the CRI's namespace), with their labels."""
        found = []
        for container in self.ctr("containers", "list", "--quiet").stdout.split():
            info = self.ctr("containers", "info", container, check=False)
            if info.returncode == 0:
                found.append(json.loads(info.stdout))
        return found

    def stack_containers(self) -> list[str]:
        """The runtime's containers of the stack's namespace (pods' and sandboxes')."""
        return [
            container["ID"]
            for container in self.containers()
            if (container.get("Labels") or {}).get("io.kubernetes.pod.namespace") == NAMESPACE
        ]

    def volume_directories(self) -> list[Path]:
        """The directories local-path-provisioner made for the stack's claims."""
        if not VOLUMES.is_dir():
            return []
        return sorted(path for path in VOLUMES.iterdir() if f"_{NAMESPACE}_" in path.name)
