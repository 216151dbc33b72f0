"""The processes a benchmark run starts: both services with their production
gunicorn settings, items-service with its relay left off, and the two
baselines under the same gunicorn settings, the bare Flask ceiling and the
naive peer. All on loopback; reuses the test suite's process helpers."""

from pathlib import Path

from tests.support.database import TestDatabase
from tests.support.services import AUDIT_TOKEN, ServiceProcess, audit_service, items_service

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
RELAY_OFF_CONFIG = BENCH / "relay_off.gunicorn.conf.py"
# The cluster's PostgreSQL serves without TLS (the official image's default),
# and the test server's TLS, which libpq uses when offered, costs every round
# trip and every connection CPU on both ends: the benchmark talks to it in
# plain, as the services do in the cluster.
WITHOUT_TLS = "?sslmode=disable"


def _without_tls(service: ServiceProcess) -> ServiceProcess:
    service.env["DATABASE_URL"] += WITHOUT_TLS
    return service


def audit(database: TestDatabase, port: int | None = None) -> ServiceProcess:
    return _without_tls(audit_service(database, port))


def items(database: TestDatabase, audit_url: str) -> ServiceProcess:
    return _without_tls(items_service(database, audit_url))


def items_without_relay(database: TestDatabase, audit_url: str) -> ServiceProcess:
    template = items(database, audit_url)
    # The template's environment names its port, so the process keeps that port.
    return ServiceProcess(
        template.name,
        template.env,
        port=template.port,
        directory=REPOSITORY / "items-service",
        config=RELAY_OFF_CONFIG,
    )


def ceiling() -> ServiceProcess:
    return ServiceProcess("flask-ceiling", {}, directory=BENCH / "ceiling")


def naive_peer(database: TestDatabase, audit_url: str) -> ServiceProcess:
    return ServiceProcess(
        "naive-peer",
        {
            "DATABASE_URL": database.url("items_service") + WITHOUT_TLS,
            "AUDIT_SERVICE_URL": audit_url,
            "AUDIT_TOKEN": AUDIT_TOKEN,
        },
        directory=BENCH / "naive_peer",
    )
