"""No audit event is lost and none is stored twice (DESIGN §3), with real
processes: audit-service down and back, and several relays sharing one outbox."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support.metrics import scrape, value
from tests.support.network import free_port
from tests.support.services import audit_service, items_service, wait_for

ITEMS_PER_PROCESS = 150


def create_items(base_url: str, count: int, prefix: str) -> list[tuple[int, float]]:
    """(status, seconds) of each POST /items, sent over 4 connections at once."""

    def create(n: int) -> tuple[int, float]:
        started = time.perf_counter()
        response = requests.post(f"{base_url}/items", json={"name": f"{prefix}-{n}"}, timeout=10)
        return response.status_code, time.perf_counter() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(create, range(count)))


def outbox_event_ids(database) -> set[str]:
    return {row[0] for row in database.query("SELECT event_id::text FROM audit_outbox")}


def stored_event_ids(database) -> list[str]:
    return [row[0] for row in database.query("SELECT event_id::text FROM audit_logs")]


def test_events_written_while_audit_service_is_down_arrive_exactly_once(database):
    database.query("TRUNCATE items, audit_outbox, audit_logs; SELECT 1")
    audit = audit_service(database, port=free_port()).start()
    items = items_service(database, audit.url).start()
    try:
        audit.stop()

        results = create_items(items.url, 60, "while-down")

        assert [status for status, _ in results] == [201] * 60
        latencies = sorted(seconds for _, seconds in results)
        print(
            f"\nPOST /items with audit-service down: p50 {latencies[30] * 1000:.1f} ms,"
            f" max {latencies[-1] * 1000:.1f} ms"
        )
        pending = outbox_event_ids(database)
        assert len(pending) == 60
        assert stored_event_ids(database) == []

        audit.start()

        wait_for(
            lambda: len(stored_event_ids(database)) >= 60,
            timeout=60,
            message="the backlog to be delivered",
        )
        stored = stored_event_ids(database)
        assert sorted(stored) == sorted(pending), "every event once, no other"
        assert outbox_event_ids(database) == set()
        metrics = scrape(audit.ops_url)
        assert value(metrics, "audit_events_processed_total", result="stored") == 60
        assert value(metrics, "audit_events_processed_total", result="duplicate") == 0
    finally:
        items.close()
        audit.close()


def test_two_items_processes_share_the_outbox_without_double_delivery(database):
    database.query("TRUNCATE items, audit_outbox, audit_logs; SELECT 1")
    audit = audit_service(database, port=free_port()).start()
    replicas = [items_service(database, audit.url).start() for _ in range(2)]
    try:
        # A backlog first, so that all four relays (2 processes x 2 workers)
        # compete for the same rows when audit-service comes back.
        audit.stop()
        with ThreadPoolExecutor(max_workers=2) as pool:
            batches = list(
                pool.map(
                    lambda replica: create_items(replica.url, ITEMS_PER_PROCESS, replica.url),
                    replicas,
                )
            )
        assert all(status == 201 for batch in batches for status, _ in batch)
        total = 2 * ITEMS_PER_PROCESS
        pending = outbox_event_ids(database)
        assert len(pending) == total

        audit.start()
        # More traffic while the backlog drains.
        extra = create_items(replicas[0].url, 20, "during-drain")
        create_items(replicas[1].url, 20, "during-drain")
        assert all(status == 201 for status, _ in extra)
        total += 40

        wait_for(
            lambda: len(stored_event_ids(database)) >= total,
            timeout=90,
            message=f"{total} events to be delivered",
        )
        stored = stored_event_ids(database)
        assert len(stored) == len(set(stored)) == total
        assert pending <= set(stored)
        assert outbox_event_ids(database) == set()
        metrics = scrape(audit.ops_url)
        assert value(metrics, "audit_events_processed_total", result="duplicate") == 0, (
            "no relay delivered an event another relay had taken"
        )
        assert value(metrics, "audit_events_processed_total", result="stored") == total
        delivered = sum(value(scrape(r.ops_url), "audit_events_delivered_total") for r in replicas)
        assert delivered == total
    finally:
        for replica in replicas:
            replica.close()
        audit.close()
