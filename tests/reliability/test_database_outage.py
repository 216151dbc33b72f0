"""PostgreSQL unreachable in the middle of a steady stream: clients get 503
problems at once (no 500, nothing hanging past the client's timeout), both
services recover on their own, and every request that succeeded keeps its one
audit row. Extends test_readiness (single requests, no load) to an outage
under load, with the relay's deliveries cut too."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.reliability.load import CLIENT_TIMEOUT_SECONDS, SteadyLoad, create_or_list
from tests.support.audit_trail import audit_rows_per_request
from tests.support.network import CuttableProxy
from tests.support.services import ServiceProcess, audit_service, items_service, wait_for

OUTAGE_SECONDS = 5


def server_errors_logged(service: ServiceProcess) -> list[dict]:
    """Access-log lines of answers in the 5xx range other than 503."""
    lines = []
    for line in service.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        status = entry.get("status")
        if isinstance(status, int) and status >= 500 and status != 503:
            lines.append(entry)
    return lines


def ready(service: ServiceProcess) -> bool:
    return requests.get(f"{service.url}/readyz", timeout=5).status_code == 200


def test_clients_get_503_during_the_outage_and_both_services_recover(database, services):
    proxy = CuttableProxy(database.host, database.port)
    try:
        audit = audit_service(database, database_port=proxy.port).start()
        services.append(audit)
        items = items_service(database, audit.url, database_port=proxy.port).start()
        services.append(items)

        with SteadyLoad(create_or_list(items.url)) as load:
            wait_for(lambda: load.count() >= 100, message="the stream to be under way")
            proxy.cut()
            time.sleep(OUTAGE_SECONDS)
            proxy.restore()
            wait_for(
                lambda: ready(items) and ready(audit),
                timeout=30,
                message="both services to be ready again",
            )
            ready_at = time.monotonic()
            served = load.count()
            wait_for(lambda: load.count() >= served + 100, message="traffic after recovery")
            outcomes = load.stop()

        no_answer = [o for o in outcomes if o.status is None]
        assert no_answer == [], "every request answered within the client's timeout"
        assert {o.status for o in outcomes} <= {200, 201, 503}
        unavailable = [o for o in outcomes if o.status == 503]
        assert unavailable, "the outage must have been seen by clients"
        for outcome in unavailable:
            assert outcome.content_type == "application/problem+json", outcome
            assert json.loads(outcome.body)["status"] == 503
            assert outcome.retry_after == "1"
        slowest = max(o.seconds for o in outcomes)
        assert slowest < CLIENT_TIMEOUT_SECONDS
        after_recovery = [o for o in outcomes if o.started > ready_at]
        assert after_recovery and all(o.status in (200, 201) for o in after_recovery), (
            "once ready again, no request fails: no dead pooled connection is handed out"
        )
        assert items.process.poll() is None and audit.process.poll() is None

        succeeded = {o.request_id for o in outcomes if o.status in (200, 201)}
        wait_for(
            lambda: database.count("audit_outbox") == 0, timeout=60, message="the outbox to drain"
        )
        rows = audit_rows_per_request(database)
        assert succeeded <= set(rows), "every successful request was audited"
        assert set(rows.values()) == {1}, "no event stored twice"
        assert server_errors_logged(items) == []
        assert server_errors_logged(audit) == [], "the relay saw only 503s from audit-service"
        print(
            f"\n{len(outcomes)} requests, {len(unavailable)} answered 503 during a"
            f" {OUTAGE_SECONDS}s outage; slowest answer {slowest * 1000:.0f} ms"
        )
    finally:
        proxy.close()


def test_connections_the_database_dropped_while_idle_are_not_reused(database, services):
    """A database restart while no traffic flows leaves every pooled connection
    dead; the first requests afterwards must not be the ones to find out."""
    proxy = CuttableProxy(database.host, database.port)
    try:
        items = items_service(database, "http://127.0.0.1:9", database_port=proxy.port)
        services.append(items.start())
        with ThreadPoolExecutor(max_workers=8) as pool:
            warm = list(
                pool.map(
                    lambda _: requests.get(f"{items.url}/items", timeout=10).status_code, range(64)
                )
            )
        assert set(warm) == {200}, "every worker now holds several pooled connections"

        proxy.cut()
        time.sleep(0.5)
        proxy.restore()

        with ThreadPoolExecutor(max_workers=8) as pool:
            after = list(
                pool.map(
                    lambda _: requests.get(f"{items.url}/items", timeout=10).status_code, range(64)
                )
            )
        assert set(after) == {200}
    finally:
        proxy.close()
