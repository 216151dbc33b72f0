"""Fixtures every tier may use: both services under gunicorn (2 workers each) on
loopback ports against a throwaway database, shared by the tests of a module.
Tiers that need something else (tests/services: Flask test clients; tests/reliability:
a fresh database per test) override them in their own conftest."""

import os

import pytest

from tests.support.database import create_database, drop_database
from tests.support.services import audit_service, items_service

# The end-to-end tiers run on their own (`make e2e`, `make e2e-pods`, which build their
# tools and start their cluster first), never as part of `make test`.
collect_ignore = [
    tier
    for tier, switch in (("e2e", "ITEMS_AUDIT_E2E"), ("e2e_pods", "ITEMS_AUDIT_E2E_PODS"))
    if not os.environ.get(switch)
]


@pytest.fixture(scope="module")
def database():
    database = create_database()
    yield database
    drop_database(database)


@pytest.fixture(scope="module")
def audit(database):
    service = audit_service(database).start()
    yield service
    service.close()


@pytest.fixture(scope="module")
def items(database, audit):
    service = items_service(database, audit.url).start()
    yield service
    service.close()
