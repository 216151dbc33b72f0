"""Tier 1: each service's Flask app against a real PostgreSQL (a throwaway
database per run), with audit delivery over real HTTP to a real audit-service."""

import threading

import pytest
from werkzeug.serving import make_server

from audit_service.factory import create_app as create_audit_app
from audit_service.settings import Settings as AuditSettings
from items_service.factory import create_app as create_items_app
from items_service.settings import Settings as ItemsSettings
from tests.support.database import create_database, drop_database
from tests.support.services import AUDIT_TOKEN


@pytest.fixture(scope="session")
def database():
    database = create_database()
    yield database
    drop_database(database)


@pytest.fixture(autouse=True)
def empty_tables(database):
    database.query("TRUNCATE items, audit_outbox, audit_logs RESTART IDENTITY; SELECT 1")


@pytest.fixture(scope="session")
def audit_app(database):
    return create_audit_app(AuditSettings(database.url("audit_service"), AUDIT_TOKEN))


@pytest.fixture(scope="session")
def audit_server(audit_app):
    """audit-service on a loopback port, for the relay to deliver to over HTTP."""
    server = make_server("127.0.0.1", 0, audit_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def items_app(database, audit_server):
    return create_items_app(ItemsSettings(database.url("items_service"), audit_server, AUDIT_TOKEN))


@pytest.fixture
def items(items_app):
    return items_app.test_client()


@pytest.fixture
def audit(audit_app):
    return audit_app.test_client()


@pytest.fixture
def deliver(items_app):
    """Run the outbox relay once, synchronously: every pending event is posted to audit-service."""
    return items_app.extensions["audit_relay"].deliver_pending
