"""Both services under gunicorn on loopback, on a throwaway database."""

import pytest

from tests.support.database import create_database, drop_database
from tests.support.services import ServiceProcess, audit_service, items_service


def on_loopback(service: ServiceProcess) -> ServiceProcess:
    # gunicorn lets GUNICORN_CMD_ARGS override the config file's 0.0.0.0 bind.
    service.env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{service.port}"
    return service


@pytest.fixture(scope="module")
def database():
    database = create_database()
    yield database
    drop_database(database)


@pytest.fixture(scope="module")
def audit(database):
    service = on_loopback(audit_service(database)).start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def items(database, audit):
    service = on_loopback(items_service(database, audit.url)).start()
    yield service
    service.stop()
