"""Fresh database and services for each test: the tests kill and restart them."""

import pytest

from tests.support.database import create_database, drop_database
from tests.support.services import ServiceProcess


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
