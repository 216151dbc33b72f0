"""Audit delivery figures read from the database: the lag from an event's
commit to its row in audit_logs, and how fast a backlog drains."""

import time

from tests.support.database import TestDatabase

POLL_SECONDS = 0.2


def wait_for_empty_outbox(database: TestDatabase, timeout: float) -> float:
    """Seconds until the outbox is empty; TimeoutError past `timeout`."""
    started = time.monotonic()
    while database.count("audit_outbox") > 0:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the outbox did not drain within {timeout}s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def lag_percentiles(database: TestDatabase, action: str, since, until) -> dict:
    """Written to stored, for items-service's events of one action that occurred
    in a window. occurred_at is taken just before the request's statement
    (audit_recorder.py), and audit_logs.created_at is audit-service's
    transaction time: same host, same clock."""
    row = database.query(
        """
        SELECT count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY lag),
               percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
               max(lag)
        FROM (SELECT extract(epoch FROM created_at - occurred_at) * 1000 AS lag
              FROM audit_logs
              WHERE service = 'items-service' AND action = %s
                AND occurred_at BETWEEN %s AND %s) AS lags
        """,
        (action, since, until),
    )[0]
    count, p50, p95, p99, worst = row
    return {
        "events": count,
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(float(worst), 1),
    }


def drain(database: TestDatabase, backlog: int, timeout: float) -> dict:
    """Watches a backlog of `backlog` events drain after audit-service came back:
    how long until the first delivery (the relay's back-off), and the rate after."""
    started = time.monotonic()
    stored_before = database.count("audit_logs")
    first_delivery = None
    while True:
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            raise TimeoutError(f"the backlog did not drain within {timeout}s")
        if first_delivery is None and database.count("audit_logs") > stored_before:
            first_delivery = elapsed
        if database.count("audit_outbox") == 0:
            break
        time.sleep(POLL_SECONDS)
    first_delivery = first_delivery if first_delivery is not None else elapsed
    draining = max(elapsed - first_delivery, POLL_SECONDS)
    return {
        "backlog_events": backlog,
        "seconds_to_first_delivery": round(first_delivery, 1),
        "seconds_to_empty": round(elapsed, 1),
        "drain_events_per_second": round(backlog / draining),
    }
