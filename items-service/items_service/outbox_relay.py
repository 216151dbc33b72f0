"""Delivers audit events from the outbox to audit-service (DESIGN §3): the
loop, the batching and the back-off. The SQL is outbox.py's, the HTTP call
audit_client.py's.

Each gunicorn worker runs one relay thread. A relay claims a batch of rows
with FOR UPDATE SKIP LOCKED, so relays in other workers and replicas never
take the same rows, posts them, and deletes them in the same transaction
only after audit-service has answered 2xx (which it does after its own
commit). A crash between the two means a redelivery, which audit-service
drops by event_id: no event is lost and none is stored twice.
"""

import logging
import random
import threading
import time

import psycopg2

from items_service import outbox
from items_service.audit_client import AuditClient
from items_service.metrics import (
    AUDIT_DELIVERY_FAILURES,
    AUDIT_DELIVERY_LAG,
    AUDIT_EVENTS_DELIVERED,
    AUDIT_OUTBOX_PENDING,
)
from service_common.database import Database, DatabaseUnavailable

log = logging.getLogger(__name__)

BATCH_SIZE = 100
POLL_INTERVAL_SECONDS = 1.0
# After a wake-up, wait this long so that a burst of requests goes out as one
# batch rather than as one HTTP call and four round trips per event.
BATCH_LINGER_SECONDS = 0.02
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
PENDING_GAUGE_INTERVAL_SECONDS = 1.0


class DeliveryFailed(Exception):
    """audit-service did not take the batch; it stays in the outbox for a retry."""


class OutboxRelay:
    def __init__(self, database: Database, audit_service_url: str, audit_token: str):
        self._database = database
        self._audit = AuditClient(audit_service_url, audit_token)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._gauge_refreshed_at = -PENDING_GAUGE_INTERVAL_SECONDS

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-outbox-relay", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Deliver soon: called after a request committed its event."""
        self._wake.set()

    def stop(self, timeout: float) -> None:
        """Finish the batch in flight and stop; what is left stays in the outbox."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            try:
                self.deliver_pending()
            except (DeliveryFailed, DatabaseUnavailable, psycopg2.Error) as error:
                backoff = min(max(backoff * 2, FIRST_BACKOFF_SECONDS), MAX_BACKOFF_SECONDS)
                log.warning("audit delivery paused for %.1fs: %s", backoff, str(error).strip())
                # Jitter spreads the retries of many relays; new requests do not
                # cut the pause short, so a down audit-service is not hammered.
                self._stopping.wait(backoff * random.uniform(0.5, 1.0))  # noqa: S311 (jitter, not a secret)
                continue
            except Exception:
                log.exception("audit relay error")
                self._stopping.wait(MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.0
            if self._wake.wait(POLL_INTERVAL_SECONDS):
                self._stopping.wait(BATCH_LINGER_SECONDS)
            self._wake.clear()

    def deliver_pending(self) -> int:
        """Deliver batches until no deliverable row is left unclaimed; returns how many
        events were delivered. Raises DeliveryFailed when audit-service cannot take them."""
        delivered = 0
        try:
            while not self._stopping.is_set():
                processed, stored = self._deliver_batch()
                delivered += stored
                # A short batch means nothing unclaimed was left when it was taken.
                if processed < BATCH_SIZE:
                    break
        finally:
            if time.monotonic() - self._gauge_refreshed_at >= PENDING_GAUGE_INTERVAL_SECONDS:
                self._refresh_pending_gauge()
        return delivered

    def _deliver_batch(self) -> tuple[int, int]:
        """(rows processed, rows delivered) for one claimed batch."""
        with self._database.transaction() as connection, connection.cursor() as cursor:
            batch = outbox.claim(cursor, BATCH_SIZE)
            pending = batch
            failure = None
            while pending:
                answer = self._audit.post([row.event for row in pending])
                if answer.accepted:
                    for lag in outbox.delete(cursor, pending):
                        AUDIT_DELIVERY_LAG.observe(lag)
                    break
                if answer.rejected:
                    for index, reason in answer.rejected.items():
                        log.error(
                            "audit event %s rejected by audit-service and kept in the outbox: %s",
                            pending[index].event.get("event_id"),
                            reason,
                        )
                        outbox.mark_failed(cursor, pending[index], reason)
                    AUDIT_DELIVERY_FAILURES.labels("rejected").inc(len(answer.rejected))
                    pending = [
                        row for index, row in enumerate(pending) if index not in answer.rejected
                    ]
                    continue
                outbox.record_attempt(cursor, pending, answer.description)
                failure = answer
                break
        # Committed: the attempts are counted even when the batch failed.
        if failure is not None:
            AUDIT_DELIVERY_FAILURES.labels(failure.failure_reason).inc(len(pending))
            raise DeliveryFailed(failure.description)
        AUDIT_EVENTS_DELIVERED.inc(len(pending))
        return len(batch), len(pending)

    def _refresh_pending_gauge(self) -> None:
        try:
            with self._database.transaction() as connection, connection.cursor() as cursor:
                AUDIT_OUTBOX_PENDING.set(outbox.count_pending(cursor))
                self._gauge_refreshed_at = time.monotonic()
        except (DatabaseUnavailable, psycopg2.Error):
            pass  # The delivery error itself is already being reported.
