"""Running items-service and audit-service as real gunicorn processes on loopback."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.support.database import TestDatabase
from tests.support.network import free_port
from tests.support.repository_files import REPOSITORY

AUDIT_TOKEN = "test-audit-token-0123456789"
GUNICORN = Path(sys.executable).with_name("gunicorn")


class ServiceProcess:
    """One service under gunicorn, started the way DESIGN §5 says:
    `gunicorn --config gunicorn.conf.py app:app` in the service's directory
    (another directory or config file for the benchmark's variants), listening
    on loopback (the services' default).

    Whatever it writes outside the repository, its log and (through TMPDIR)
    its private metrics directory, lives in one temporary directory of its
    own, which close() removes, even after the process was killed."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        port: int | None = None,
        directory: Path | None = None,
        config: Path | str = "gunicorn.conf.py",
        gunicorn: Path = GUNICORN,
    ):
        self.name = name
        self.gunicorn = gunicorn
        self.port = port or free_port()
        # Probes and metrics (DESIGN §2).
        self.ops_port = int(env.get("OPS_PORT") or free_port())
        self.directory = directory or REPOSITORY / name
        self.config = config
        # Removed by close(), or when this object is collected, at the latest at exit.
        self._scratch = tempfile.TemporaryDirectory(prefix=f"{name}-")
        self.env = {
            "PATH": os.environ["PATH"],
            "PORT": str(self.port),
            "OPS_PORT": str(self.ops_port),
            "LOG_LEVEL": "info",
            **env,
            # Its own, even when env is another instance's (bench/stack.py copies one).
            "TMPDIR": self._scratch.name,
        }
        self.log_path = Path(self._scratch.name) / "service.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """The operations port: probes and /metrics."""
        return f"http://127.0.0.1:{self.ops_port}"

    def start(self, wait: bool = True) -> "ServiceProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(self.gunicorn), "--config", str(self.config), "app:app"],
                cwd=self.directory,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_until_serving()
        return self

    def wait_until_serving(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.logs()}")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as Kubernetes sends: gunicorn drains, then exits."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else 0

    def close(self) -> None:
        """Stop the service and remove everything it wrote: its log and metrics."""
        self.stop()
        self._scratch.cleanup()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def audit_service(
    database: TestDatabase, port: int | None = None, database_port: int | None = None
) -> ServiceProcess:
    return ServiceProcess(
        "audit-service",
        {
            "DATABASE_URL": database.url("audit_service", port=database_port),
            "AUDIT_TOKEN": AUDIT_TOKEN,
        },
        port=port,
    )


def items_service(
    database: TestDatabase,
    audit_url: str,
    database_port: int | None = None,
    env: dict[str, str] | None = None,
) -> ServiceProcess:
    return ServiceProcess(
        "items-service",
        {
            "DATABASE_URL": database.url("items_service", port=database_port),
            "AUDIT_SERVICE_URL": audit_url,
            "AUDIT_TOKEN": AUDIT_TOKEN,
            **(env or {}),
        },
    )


def items_service_behind_proxy(database: TestDatabase, audit_url: str) -> ServiceProcess:
    """items-service as in its pod, where only the proxy in front of it
    (tests/support/items_proxy.py) reaches it, and sets X-Forwarded-For."""
    return items_service(database, audit_url, env={"TRUSTED_PROXY_COUNT": "1"})


def wait_for(condition, timeout: float = 20, interval: float = 0.1, message: str = "condition"):
    """Poll until condition() returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
