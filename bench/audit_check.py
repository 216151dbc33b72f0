"""The audit trail after the load (DESIGN §3): exactly one row per request
items-service answered, counted, not sampled. Every request the benchmark sends
carries an X-Request-ID unique to the run (lua/request_ids.lua)."""

from tests.support.database import TestDatabase
from tests.support.metrics import scrape

AUDITED_ROUTES = ("/items", "/items/<item_id>")
AUDITED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def answered_requests(items_ops_url: str) -> int:
    """Requests to the audited routes that items-service answered below 500,
    as its own request counter tells."""
    return int(
        sum(
            count
            for (name, labels), count in scrape(items_ops_url).items()
            if name == "http_request_duration_seconds_count"
            and dict(labels)["route"] in AUDITED_ROUTES
            and dict(labels)["method"] in AUDITED_METHODS
            and int(dict(labels)["status"]) < 500
        )
    )


def check(database: TestDatabase, items_ops_url: str) -> dict:
    """Once the outbox has drained: the requests answered and the rows stored
    for them; exactly once when there are as many rows as requests, each
    request with its own."""
    answered = answered_requests(items_ops_url)
    rows, requests = database.query(
        "SELECT count(*), count(DISTINCT request_id) FROM audit_logs"
        " WHERE service = 'items-service'"
    )[0]
    return {
        "requests_answered": answered,
        "audit_rows": rows,
        "requests_with_a_row": requests,
        "exactly_once": answered == rows == requests,
    }
