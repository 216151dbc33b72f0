"""The processes a benchmark run starts: both services with their production
gunicorn settings, items-service with its relay left off, and the bare Flask
baseline. All on loopback; reuses the test suite's process helpers."""

import subprocess
from pathlib import Path

from tests.support.database import TestDatabase
from tests.support.services import GUNICORN, ServiceProcess, audit_service, items_service

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
RELAY_OFF_CONFIG = BENCH / "relay_off.gunicorn.conf.py"


def on_loopback(service: ServiceProcess) -> ServiceProcess:
    # gunicorn lets GUNICORN_CMD_ARGS override the config file's 0.0.0.0 bind.
    service.env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{service.port}"
    return service


class CustomProcess(ServiceProcess):
    """A gunicorn process started from another directory or with another config file."""

    def __init__(self, name: str, env: dict[str, str], directory: Path, config: Path):
        super().__init__(name, env)
        self.directory = directory
        self.config = config

    def start(self, wait: bool = True) -> "CustomProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(GUNICORN), "--config", str(self.config), "app:app"],
                cwd=self.directory,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_until_serving()
        return self


def audit(database: TestDatabase, port: int | None = None) -> ServiceProcess:
    return on_loopback(audit_service(database, port))


def items(database: TestDatabase, audit_url: str) -> ServiceProcess:
    return on_loopback(items_service(database, audit_url))


def items_without_relay(database: TestDatabase, audit_url: str) -> ServiceProcess:
    template = items_service(database, audit_url)
    return on_loopback(
        CustomProcess(template.name, template.env, REPOSITORY / "items-service", RELAY_OFF_CONFIG)
    )


def flask_baseline() -> ServiceProcess:
    directory = BENCH / "baseline"
    return on_loopback(
        CustomProcess("flask-baseline", {}, directory, directory / "gunicorn.conf.py")
    )
