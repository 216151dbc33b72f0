"""/readyz follows the database: 503 while it is unreachable, 200 again once
it is back, without a restart; requests meanwhile get 503 problems."""

import requests

from tests.support.assertions import assert_problem
from tests.support.network import CuttableProxy
from tests.support.services import audit_service, items_service, wait_for


def test_items_service_follows_the_database(database, audit):
    proxy = CuttableProxy("127.0.0.1", 5432)
    items = items_service(database, audit.url, database_port=proxy.port).start()
    try:
        assert requests.get(f"{items.url}/readyz").status_code == 200
        assert requests.post(f"{items.url}/items", json={"name": "before"}).status_code == 201

        proxy.cut()

        assert_problem(requests.get(f"{items.url}/readyz", timeout=10), 503)
        unavailable = requests.post(f"{items.url}/items", json={"name": "during"}, timeout=10)
        assert_problem(unavailable, 503)
        assert unavailable.headers["Retry-After"] == "1"
        assert_problem(requests.get(f"{items.url}/items", timeout=10), 503)
        assert requests.get(f"{items.url}/healthz").status_code == 200, "alive, so not restarted"

        proxy.restore()

        wait_for(
            lambda: requests.get(f"{items.url}/readyz").status_code == 200,
            message="readiness to return",
        )
        assert requests.post(f"{items.url}/items", json={"name": "after"}).status_code == 201
        assert items.process.poll() is None
    finally:
        items.stop()
        proxy.close()


def test_audit_service_follows_the_database(database):
    proxy = CuttableProxy("127.0.0.1", 5432)
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
        audit.stop()
        proxy.close()
