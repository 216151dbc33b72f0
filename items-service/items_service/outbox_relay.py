"""Delivers audit events from the outbox to audit-service (DESIGN §3).

Each gunicorn worker runs one relay thread. A relay claims a batch of rows
with FOR UPDATE SKIP LOCKED, so relays in other workers and replicas never
take the same rows, posts them, and deletes them in the same transaction
only after audit-service has answered 2xx (which it does after its own
commit). A crash between the two means a redelivery, which audit-service
drops by event_id: no event is lost and none is stored twice.
"""

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg2
import requests

from items_service.metrics import (
    AUDIT_DELIVERY_FAILURES,
    AUDIT_DELIVERY_LAG,
    AUDIT_EVENTS_DELIVERED,
    AUDIT_OUTBOX_PENDING,
)
from service_common.database import Database, DatabaseUnavailable, commit, execute

log = logging.getLogger(__name__)

BATCH_SIZE = 100
POLL_INTERVAL_SECONDS = 1.0
# After a wake-up, wait this long so that a burst of requests goes out as one
# batch rather than as one HTTP call and four round trips per event.
BATCH_LINGER_SECONDS = 0.02
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
PENDING_GAUGE_INTERVAL_SECONDS = 1.0
HTTP_TIMEOUT_SECONDS = (2.0, 5.0)  # connect, read
ERROR_TEXT_MAX_LENGTH = 500


class DeliveryFailed(Exception):
    """audit-service did not take the batch; it stays in the outbox for a retry."""


@dataclass(frozen=True)
class Answer:
    """What audit-service said to a batch."""

    accepted: bool
    rejected: dict[int, str]  # index in the batch -> reason
    failure_reason: str | None  # metric label when neither accepted nor rejected
    description: str


class OutboxRelay:
    def __init__(self, database: Database, audit_service_url: str, audit_token: str):
        self._database = database
        self._events_url = f"{audit_service_url}/events"
        self._authorization = f"Bearer {audit_token}"
        self._http = requests.Session()
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
        with self._database.connection() as connection, connection.cursor() as cursor:
            execute(
                cursor,
                "outbox_claim",
                "SELECT id, payload FROM audit_outbox WHERE failed_at IS NULL"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                (BATCH_SIZE,),
            )
            batch = cursor.fetchall()
            if not batch:
                connection.rollback()
                return 0, 0
            pending = batch
            while pending:
                answer = self._post([payload for _, payload in pending])
                if answer.accepted:
                    self._delete(cursor, [row_id for row_id, _ in pending])
                    break
                if answer.rejected:
                    self._mark_rejected(
                        cursor,
                        [(*pending[index], reason) for index, reason in answer.rejected.items()],
                    )
                    pending = [
                        row for index, row in enumerate(pending) if index not in answer.rejected
                    ]
                    continue
                self._record_attempt(cursor, pending, answer.description)
                commit(connection)
                AUDIT_DELIVERY_FAILURES.labels(answer.failure_reason).inc(len(pending))
                raise DeliveryFailed(answer.description)
            commit(connection)
            delivered = len(pending)
            AUDIT_EVENTS_DELIVERED.inc(delivered)
            return len(batch), delivered

    def _post(self, events: list[dict]) -> Answer:
        request_id = events[0].get("request_id") if len(events) == 1 else None
        try:
            response = self._http.post(
                self._events_url,
                data=json.dumps(events),
                headers={
                    "Authorization": self._authorization,
                    "Content-Type": "application/json",
                    "X-Request-ID": request_id or f"audit-relay-{uuid.uuid4().hex}",
                },
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            return Answer(False, {}, "unavailable", f"audit-service unreachable: {error}")
        if 200 <= response.status_code < 300:
            return Answer(True, {}, None, "accepted")
        description = f"audit-service answered {response.status_code}: {response.text[:200]}"
        if response.status_code in (401, 403):
            return Answer(False, {}, "unauthorized", description)
        # 400: invalid events; 409: events whose id is stored with other content.
        # Either answer names the events at fault by their index in the batch.
        if response.status_code in (400, 409):
            rejected = _rejected_indices(response, len(events))
            if rejected:
                return Answer(False, rejected, None, description)
        return Answer(False, {}, "unavailable", description)

    def _delete(self, cursor, row_ids: list[int]) -> None:
        execute(
            cursor,
            "outbox_delete",
            "DELETE FROM audit_outbox WHERE id = ANY(%s)"
            " RETURNING extract(epoch FROM clock_timestamp() - created_at)",
            (row_ids,),
        )
        for (lag,) in cursor.fetchall():
            AUDIT_DELIVERY_LAG.observe(float(lag))

    def _mark_rejected(self, cursor, rejected: list[tuple[int, dict, str]]) -> None:
        """Keep each (row id, event, reason) in the outbox, marked failed: never retried."""
        for row_id, event, reason in rejected:
            log.error(
                "audit event %s rejected by audit-service and kept in the outbox: %s",
                event.get("event_id"),
                reason,
            )
            execute(
                cursor,
                "outbox_mark_failed",
                "UPDATE audit_outbox SET failed_at = now(), attempts = attempts + 1,"
                " last_error = %s WHERE id = %s",
                (reason[:ERROR_TEXT_MAX_LENGTH], row_id),
            )
        AUDIT_DELIVERY_FAILURES.labels("rejected").inc(len(rejected))

    def _record_attempt(self, cursor, rows, description: str) -> None:
        execute(
            cursor,
            "outbox_record_attempt",
            "UPDATE audit_outbox SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)",
            (description[:ERROR_TEXT_MAX_LENGTH], [row_id for row_id, _ in rows]),
        )

    def _refresh_pending_gauge(self) -> None:
        try:
            with self._database.connection() as connection, connection.cursor() as cursor:
                execute(
                    cursor,
                    "outbox_count",
                    "SELECT count(*) FROM audit_outbox WHERE failed_at IS NULL",
                )
                AUDIT_OUTBOX_PENDING.set(cursor.fetchone()[0])
                self._gauge_refreshed_at = time.monotonic()
                connection.rollback()
        except (DatabaseUnavailable, psycopg2.Error):
            pass  # The delivery error itself is already being reported.


def _rejected_indices(response: requests.Response, batch_length: int) -> dict[int, str]:
    """Which events a 400 from audit-service names as invalid, with the reason."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return {}
    rejected = {}
    for error in errors:
        index = error.get("index") if isinstance(error, dict) else None
        if isinstance(index, int) and 0 <= index < batch_length:
            rejected.setdefault(index, f"{error.get('field')}: {error.get('message')}")
    return rejected
