"""Fresh database and services for each test: the tests kill and restart them."""

from collections import Counter

import pytest

from tests.support.database import TestDatabase, create_database, drop_database
from tests.support.services import ServiceProcess


def audit_rows_per_request(database: TestDatabase) -> Counter:
    return Counter(row[0] for row in database.query("SELECT request_id FROM audit_logs"))


def outbox_size(database: TestDatabase) -> int:
    return database.query("SELECT count(*) FROM audit_outbox")[0][0]


@pytest.fixture
def database():
    database = create_database()
    yield database
    drop_database(database)


@pytest.fixture
def services():
    """Stops, at the end of the test, every service the test registered."""
    started: list[ServiceProcess] = []
    yield started
    for service in reversed(started):
        service.stop()
