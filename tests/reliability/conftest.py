"""Fresh database and services for each test: the tests kill and restart them."""

from collections import Counter

import pytest

from tests.support.database import TestDatabase, create_database, drop_database
from tests.support.services import ServiceProcess, wait_for


def audit_rows_per_request(database: TestDatabase) -> Counter:
    return Counter(row[0] for row in database.query("SELECT request_id FROM audit_logs"))


def assert_audited_exactly_once(database: TestDatabase, request_ids: set[str]) -> None:
    """Once the outbox has drained, audit_logs holds one row for each request, and no other."""
    wait_for(lambda: database.count("audit_outbox") == 0, timeout=60, message="the outbox to drain")
    rows = audit_rows_per_request(database)
    assert set(rows) == request_ids, "one audit row for each request, and no other"
    assert set(rows.values()) == {1}, "no event stored twice"


@pytest.fixture
def database():
    database = create_database()
    yield database
    drop_database(database)


@pytest.fixture
def services():
    """Stops, at the end of the test, every service the test registered, and
    removes what it wrote."""
    started: list[ServiceProcess] = []
    yield started
    for service in reversed(started):
        service.close()
