"""The processes a benchmark run starts: both services with their production
gunicorn settings, items-service with its relay left off, and the bare Flask
baseline. All on loopback; reuses the test suite's process helpers."""

from pathlib import Path

from tests.support.database import TestDatabase
from tests.support.services import ServiceProcess, audit_service, items_service

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
RELAY_OFF_CONFIG = BENCH / "relay_off.gunicorn.conf.py"


def audit(database: TestDatabase, port: int | None = None) -> ServiceProcess:
    return audit_service(database, port)


def items(database: TestDatabase, audit_url: str) -> ServiceProcess:
    return items_service(database, audit_url)


def items_without_relay(database: TestDatabase, audit_url: str) -> ServiceProcess:
    template = items_service(database, audit_url)
    # The template's environment names its port, so the process keeps that port.
    return ServiceProcess(
        template.name,
        template.env,
        port=template.port,
        directory=REPOSITORY / "items-service",
        config=RELAY_OFF_CONFIG,
    )


def flask_baseline() -> ServiceProcess:
    directory = BENCH / "baseline"
    return ServiceProcess("flask-baseline", {}, directory=directory)
