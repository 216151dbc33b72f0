"""Both services as containers, run the way their Kubernetes Deployments run them,
against the host's real PostgreSQL.

Layout: one user-defined bridge network per run; audit-service joins it under the
name `audit-service` (its Service name) and publishes no port; items-service
publishes its port on 127.0.0.1 only; both reach PostgreSQL through a proxy on
the network's gateway address. Secrets are files in a read-only mount, used
through the *_FILE settings, as Kubernetes Secret volumes are.
"""

import os
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

# The Deployments' own values (infra/), so that the containers run as they will.
from infra.service import DRAIN_SECONDS, GRACE_SECONDS, SECRETS_DIR
from tests.containers import as_deployed
from tests.containers.docker_cli import (
    SERVICE_PORTS,
    container_logs,
    docker,
    docker_result,
    image_tag,
)
from tests.support.database import TestDatabase
from tests.support.network import CuttableProxy

CONTAINER_USER, CONTAINER_GROUP = as_deployed.user("items-service")
# What gunicorn has after SIGTERM: the pod's grace period less its preStop sleep.
GRACE_PERIOD_SECONDS = GRACE_SECONDS - DRAIN_SECONDS


@dataclass
class ContainerStack:
    database: TestDatabase
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    audit_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    containers: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.network = f"items-audit-{self.run_id}"
        docker("network", "create", "--driver", "bridge", self.network)
        gateway = docker(
            "network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", self.network
        )
        self.relay = CuttableProxy(self.database.host, self.database.port, listen_host=gateway)
        self._secrets_root = tempfile.TemporaryDirectory(prefix="items-audit-secrets-")

    def secrets_directory(self, service: str) -> Path:
        """What the service's Secret volume holds: its database URL and the audit token."""
        role = service.replace("-", "_")
        directory = Path(self._secrets_root.name) / service
        directory.mkdir(exist_ok=True)
        values = {
            "database-url": self.database.url(role, host=self.relay.host, port=self.relay.port),
            "audit-token": self.audit_token,
        }
        for name, value in values.items():
            path = directory / name
            path.write_text(value)
            # As the Deployment's Secret volume: mode 0440, group = the pod's fsGroup.
            os.chown(path, 0, CONTAINER_GROUP)
            path.chmod(0o440)
        return directory

    def run(self, service: str, name: str, extra: list[str] = (), env: dict | None = None) -> str:
        """Start a container of service's image as its Deployment runs it (user,
        filesystem, capabilities, limits, environment); returns its name. `env`
        changes settings of this test's own."""
        environment = {**as_deployed.environment(service), **(env or {})}
        container = f"{name}-{self.run_id}"
        docker(
            "run",
            "--detach",
            "--name",
            container,
            "--network",
            self.network,
            *as_deployed.run_arguments(service),
            "--volume",
            f"{self.secrets_directory(service)}:{SECRETS_DIR}:ro",
            *(f"--env={key}={value}" for key, value in environment.items()),
            *extra,
            image_tag(service),
        )
        self.containers.append(container)
        return container

    def run_audit(self) -> str:
        # Reachable on the network as http://audit-service:8081, like its ClusterIP Service.
        return self.run("audit-service", "audit", ["--network-alias", "audit-service"])

    def run_items(self, name: str = "items") -> str:
        """items-service without the proxy of its pod (tests/containers/items_proxy.py
        runs the pod): listening on the container's port, the client being the peer."""
        port = SERVICE_PORTS["items-service"]
        return self.run(
            "items-service",
            name,
            ["--publish", f"127.0.0.1::{port}"],
            {"PORT": str(port), "BIND_ADDRESS": "0.0.0.0", "TRUSTED_PROXY_COUNT": "0"},
        )

    def published_url(self, container: str, port: int) -> str:
        address = docker("port", container, f"{port}/tcp").splitlines()[0]
        return f"http://{address}"

    def wait_until_ready(self, url: str, container: str, timeout: float = 60) -> None:
        """Poll url/readyz until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            self._require_running(container)
            time.sleep(0.02)
        raise RuntimeError(f"{url}/readyz not 200 within {timeout}s:\n{self.logs(container)}")

    def wait_until_ready_inside(self, container: str, port: int, timeout: float = 60) -> None:
        """For a container with no published port: poll /readyz from inside it."""
        probe = (
            "import urllib.request; "
            f"urllib.request.urlopen('http://127.0.0.1:{port}/readyz', timeout=2)"
        )
        deadline = time.monotonic() + timeout
        while docker_result("exec", container, "python", "-c", probe).returncode != 0:
            self._require_running(container)
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{container} not ready within {timeout}s:\n{self.logs(container)}"
                )
            time.sleep(0.2)

    def _require_running(self, container: str) -> None:
        if docker("inspect", "--format", "{{.State.Running}}", container) != "true":
            raise RuntimeError(f"{container} exited:\n{self.logs(container)}")

    def logs(self, container: str, tail: str = "60") -> str:
        return container_logs(container, tail)

    def close(self) -> None:
        for container in self.containers:
            docker("rm", "--force", "--volumes", container, check=False)
        docker("network", "rm", self.network, check=False)
        self.relay.close()
        self._secrets_root.cleanup()
