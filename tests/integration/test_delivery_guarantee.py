"""No audit event is lost and none is stored twice (DESIGN §3), with real
processes: audit-service down and back, several relays sharing one outbox, and an
event audit-service refuses."""

import json
import time
import uuid
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


def test_an_event_audit_service_refuses_is_sent_once_and_never_again(database):
    """A 400 naming an event is final, unlike a redelivery (a duplicate) or an
    outage: the relay marks the event failed and never claims it again, however
    often it delivers afterwards."""
    database.query("TRUNCATE items, audit_outbox, audit_logs; SELECT 1")
    audit = audit_service(database).start()
    items = items_service(database, audit.url).start()
    refused = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-12-07T06:00:00Z",
        "service": "items-service",
        "action": "item.create",
        "resource_type": "item",
        "resource_id": "1",
        "status_code": 42,  # not an HTTP status: audit-service refuses the event
        "request_id": "refused-event",
        "client_ip": "127.0.0.1",
        "details": {},
    }
    try:
        database.query(
            "INSERT INTO audit_outbox (event_id, payload) VALUES (%s, %s); SELECT 1",
            (refused["event_id"], json.dumps(refused)),
        )
        wait_for(
            lambda: database.query("SELECT failed_at IS NOT NULL FROM audit_outbox")[0][0],
            message="a relay to take the event and mark it refused",
        )

        # Each round is a relay cycle after the refusal: a new event to claim and deliver.
        for round_number in range(6):
            request_id = f"after-the-refusal-{round_number}"
            response = requests.post(
                f"{items.url}/items",
                json={"name": request_id},
                headers={"X-Request-ID": request_id},
                timeout=10,
            )
            assert response.status_code == 201
            wait_for(
                lambda request_id=request_id: database.query(
                    "SELECT count(*) FROM audit_logs WHERE request_id = %s", (request_id,)
                )[0][0],
                message=f"the event of {request_id} to arrive",
            )

        metrics = scrape(audit.ops_url)
        assert value(metrics, "audit_events_processed_total", result="rejected") == 1, (
            "audit-service received the refused event exactly once"
        )
        assert value(metrics, "audit_events_processed_total", result="stored") == 6
        assert database.query(
            "SELECT event_id::text, attempts, failed_at IS NOT NULL, last_error FROM audit_outbox"
        ) == [(refused["event_id"], 1, True, "status_code: must be an integer from 100 to 599")]
        assert value(scrape(items.ops_url), "audit_delivery_failures_total", reason="rejected") == 1
    finally:
        items.close()
        audit.close()
