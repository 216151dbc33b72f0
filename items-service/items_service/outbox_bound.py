"""The outbox's bound (DESIGN §3). While audit-service is down, every audited
request adds a row to audit_outbox; unbounded, that fills the database's
volume. At AUDIT_OUTBOX_LIMIT rows a request that would write an event is
refused with a 503 before it does anything: it is not accepted, so no
accepted request ever loses its event, and the outbox stops growing.

Counting the whole outbox on every request would cost a scan per request, so
each worker counts at most once a second, and at every request while its
count says the outbox is close to the bound. The bound can be passed by the
requests in flight and by one second of the other workers' traffic."""

import threading
import time

from flask import Flask, request

from items_service import request_connection
from items_service.audit_recorder import audited_request
from items_service.metrics import AUDIT_OUTBOX_FULL_REFUSALS, AUDIT_OUTBOX_LIMIT
from service_common.database import Statement, execute
from service_common.problems import Problem

RECOUNT_INTERVAL_SECONDS = 1.0
# Delivery resumes within MAX_BACKOFF_SECONDS of audit-service's return and
# empties 100,000 rows in tens of seconds.
RETRY_AFTER_SECONDS = 30

# Counts the rows waiting for delivery, up to `limit`: one bounded scan of the
# relay's own partial index. Rows audit-service rejected wait for nothing (they stay
# for someone to read, and alert on their own): counting them, a burst of rejects
# would refuse every request for good.
COUNT_UP_TO = Statement(
    "outbox_count_up_to",
    "SELECT count(*) FROM (SELECT FROM audit_outbox WHERE failed_at IS NULL LIMIT $1) AS counted",
)


class OutboxFull(Problem):
    def __init__(self, limit: int):
        super().__init__(
            503,
            f"The audit trail cannot take more events now ({limit} are waiting for delivery);"
            " the request was not carried out. Retry later.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


class OutboxBound:
    """One per worker; its requests' threads share it."""

    def __init__(self, limit: int):
        self.limit = limit
        self._lock = threading.Lock()
        self._counted = 0
        self._counted_at = float("-inf")
        self._admitted_since_count = 0
        AUDIT_OUTBOX_LIMIT.set(limit)

    def admit(self) -> None:
        """Raises OutboxFull when `limit` rows wait for delivery."""
        with self._lock:
            stale = time.monotonic() - self._counted_at >= RECOUNT_INTERVAL_SECONDS
            close = self._counted < self.limit <= self._counted + self._admitted_since_count
            if stale or close:
                self._counted = self._count()
                self._counted_at = time.monotonic()
                self._admitted_since_count = 0
            if self._counted >= self.limit:
                AUDIT_OUTBOX_FULL_REFUSALS.inc()
                raise OutboxFull(self.limit)
            self._admitted_since_count += 1

    def _count(self) -> int:
        with request_connection.cursor() as cursor:
            execute(cursor, COUNT_UP_TO, (self.limit,))
            return cursor.fetchone()[0]


def register_outbox_bound(app: Flask, bound: OutboxBound) -> None:
    """Every request that would write an event passes the bound first."""

    @app.before_request
    def refuse_when_the_outbox_is_full():
        if audited_request(request.method, request.path) is not None:
            bound.admit()
