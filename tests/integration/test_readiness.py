"""/readyz follows the database: 503 while it is unreachable, 200 again once
it is back, without a restart; requests meanwhile get 503 problems, and have
no audit event: the one exception to the audit rule (DESIGN §3), as the event
would be written to that same database."""

import uuid

import requests

from tests.support.assertions import assert_problem
from tests.support.network import CuttableProxy
from tests.support.services import audit_service, items_service, wait_for


def test_items_service_follows_the_database(database, audit):
    proxy = CuttableProxy(database.host, database.port)
    items = items_service(database, audit.url, database_port=proxy.port).start()
    try:
        assert requests.get(f"{items.url}/readyz").status_code == 200
        assert requests.post(f"{items.url}/items", json={"name": "before"}).status_code == 201

        proxy.cut()

        assert_problem(requests.get(f"{items.url}/readyz", timeout=10), 503)
        during = {"X-Request-ID": f"during-outage-{uuid.uuid4().hex}"}
        unavailable = requests.post(
            f"{items.url}/items", json={"name": "during"}, headers=during, timeout=10
        )
        assert_problem(unavailable, 503)
        assert unavailable.headers["Retry-After"] == "1"
        assert_problem(requests.get(f"{items.url}/items", headers=during, timeout=10), 503)
        assert_problem(requests.get(f"{items.url}/items/1", headers=during, timeout=10), 503)
        assert requests.get(f"{items.url}/healthz").status_code == 200, "alive, so not restarted"

        proxy.restore()

        wait_for(
            lambda: requests.get(f"{items.url}/readyz").status_code == 200,
            message="readiness to return",
        )
        after = {"X-Request-ID": f"after-outage-{uuid.uuid4().hex}"}
        assert requests.post(f"{items.url}/items", json={"name": "after"}, headers=after).ok
        assert items.process.poll() is None
        wait_for(lambda: database.count("audit_outbox") == 0, message="the outbox to drain")
        logged = "SELECT count(*) FROM audit_logs WHERE request_id = %s"
        assert database.query(logged, (after["X-Request-ID"],)) == [(1,)]
        assert database.query(logged, (during["X-Request-ID"],)) == [(0,)], (
            "no event for a request answered 503"
        )
    finally:
        items.close()
        proxy.close()


def test_audit_service_follows_the_database(database):
    proxy = CuttableProxy(database.host, database.port)
    audit = audit_service(database, database_port=proxy.port).start()
    try:
        assert requests.get(f"{audit.url}/readyz").status_code == 200
        proxy.cut()
        assert_problem(requests.get(f"{audit.url}/readyz", timeout=10), 503)
        proxy.restore()
        wait_for(
            lambda: requests.get(f"{audit.url}/readyz").status_code == 200,
            message="readiness to return",
        )
    finally:
        audit.close()
        proxy.close()
