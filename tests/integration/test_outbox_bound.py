"""The outbox's bound (DESIGN §3), with real processes: while audit-service is
away the outbox fills up to AUDIT_OUTBOX_LIMIT; past it, audited requests are
refused with a 503 and not carried out, and every request that was accepted
has its event delivered once audit-service is back."""

import requests

from tests.support.metrics import scrape, value
from tests.support.network import free_port
from tests.support.services import audit_service, items_service, wait_for

LIMIT = 40
SENT = 70


def send(session: requests.Session, base_url: str, n: int) -> requests.Response:
    """Creates and reads alternately: both kinds of request write an event."""
    if n % 2 == 0:
        return session.post(f"{base_url}/items", json={"name": f"bounded-{n}"}, timeout=10)
    return session.get(f"{base_url}/items?limit=5", timeout=10)


def test_at_its_limit_the_outbox_refuses_requests_with_503_and_every_accepted_event_arrives(
    database,
):
    database.query("TRUNCATE items, audit_outbox, audit_logs; SELECT 1")
    audit_port = free_port()  # audit-service is down: nothing listens there yet
    # One worker: its count of the outbox is the only one, so the bound is exact.
    items = items_service(
        database,
        f"http://127.0.0.1:{audit_port}",
        env={"AUDIT_OUTBOX_LIMIT": str(LIMIT), "WEB_CONCURRENCY": "1"},
    ).start()
    audit = audit_service(database, port=audit_port)
    session = requests.Session()
    try:
        answers = [send(session, items.url, n) for n in range(SENT)]

        accepted = [answer for answer in answers if answer.status_code < 500]
        refused = [answer for answer in answers if answer.status_code >= 500]
        assert [answer.status_code for answer in accepted] == [201, 200] * (LIMIT // 2)
        assert answers[:LIMIT] == accepted  # refusals begin at the limit, not before
        assert {answer.status_code for answer in refused} == {503}
        assert len(refused) == SENT - LIMIT
        for answer in refused:
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.headers["Retry-After"] == "30"
            assert "the request was not carried out" in answer.json()["detail"]
        # A refused create created nothing; the outbox holds exactly the accepted events.
        assert database.count("items") == LIMIT // 2
        assert database.count("audit_outbox") == LIMIT
        samples = scrape(items.ops_url)
        assert value(samples, "audit_outbox_limit") == LIMIT
        assert value(samples, "audit_outbox_full_refusals_total") == SENT - LIMIT
        print(
            f"\noutbox at its limit of {LIMIT}: {len(refused)} of {SENT} requests answered"
            f" 503 (Retry-After: 30), {database.count('audit_outbox')} events waiting"
        )

        audit.start()
        wait_for(
            lambda: database.count("audit_logs") == LIMIT and database.count("audit_outbox") == 0,
            timeout=60,
            message="the accepted events to be delivered",
        )
        stored_request_ids = {
            request_id for (request_id,) in database.query("SELECT request_id FROM audit_logs")
        }
        assert stored_request_ids == {answer.headers["X-Request-ID"] for answer in accepted}

        # Room again: requests are served. Within the bound's recount interval at most.
        after = wait_for(
            lambda: (answer := send(session, items.url, 0)).status_code == 201 and answer,
            timeout=10,
            message="requests to be served again",
        )
        assert after.status_code == 201
    finally:
        items.close()
        audit.close()


def test_events_audit_service_rejected_do_not_count_against_the_bound(database):
    """A rejected event stays in the outbox, marked failed, for someone to read; it
    waits for nothing. As many of them as the bound must not refuse a single
    request, or a burst of rejects would turn the API into a 503 for good."""
    database.query("TRUNCATE items, audit_outbox, audit_logs; SELECT 1")
    database.query(
        "INSERT INTO audit_outbox (event_id, payload, attempts, last_error, failed_at)"
        " SELECT gen_random_uuid(), '{}', 1, 'rejected: 400', now()"
        " FROM generate_series(1, %s); SELECT 1",
        (LIMIT,),
    )
    audit_port = free_port()
    items = items_service(
        database,
        f"http://127.0.0.1:{audit_port}",
        env={"AUDIT_OUTBOX_LIMIT": str(LIMIT), "WEB_CONCURRENCY": "1"},
    ).start()
    try:
        answer = requests.post(f"{items.url}/items", json={"name": "after rejects"}, timeout=10)
        assert answer.status_code == 201, answer.text
    finally:
        items.stop()
