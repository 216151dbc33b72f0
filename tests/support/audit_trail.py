"""What the audit trail holds after traffic: one row per request, and no other."""

from collections import Counter

from tests.support.database import TestDatabase
from tests.support.services import wait_for


def audit_rows_per_request(database: TestDatabase) -> Counter:
    return Counter(row[0] for row in database.query("SELECT request_id FROM audit_logs"))


def assert_audited_exactly_once(database: TestDatabase, request_ids: set[str]) -> None:
    """Once the outbox has drained, audit_logs holds one row for each request, and no other."""
    wait_for(lambda: database.count("audit_outbox") == 0, timeout=60, message="the outbox to drain")
    rows = audit_rows_per_request(database)
    assert set(rows) == request_ids, "one audit row for each request, and no other"
    assert set(rows.values()) == {1}, "no event stored twice"
