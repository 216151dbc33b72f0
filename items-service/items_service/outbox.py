"""The outbox table (DESIGN §3): every statement on audit_outbox.

A request writes its event here in the statement that makes its change
(store.py builds them with write_event), or alone when it changes nothing
(insert); the relay claims deliverable rows, deletes them once audit-service
has them, and keeps the ones it rejects, marked failed, with the reason."""

import json
from dataclasses import dataclass

from service_common.database import Statement, execute

ERROR_TEXT_MAX_LENGTH = 500


def write_event(payload: str) -> str:
    """A WITH query that writes one event: `payload`, an SQL expression of the
    event's JSON, which carries the event's id."""
    return f"""event AS (
        INSERT INTO audit_outbox (event_id, payload)
        SELECT (payload ->> 'event_id')::uuid, payload FROM (SELECT {payload} AS payload) AS chosen
    )"""  # noqa: S608 (payload is an expression of store.py's own statements)


INSERT = Statement(
    "outbox_insert",
    "INSERT INTO audit_outbox (event_id, payload) SELECT ($1::jsonb ->> 'event_id')::uuid, $1",
)
CLAIM = Statement(
    "outbox_claim",
    "SELECT id, payload FROM audit_outbox WHERE failed_at IS NULL"
    " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
)
DELETE = Statement(
    "outbox_delete",
    "DELETE FROM audit_outbox WHERE id = ANY($1::bigint[])"
    " RETURNING extract(epoch FROM clock_timestamp() - created_at)",
)
MARK_FAILED = Statement(
    "outbox_mark_failed",
    "UPDATE audit_outbox SET failed_at = now(), attempts = attempts + 1,"
    " last_error = $1 WHERE id = $2",
)
RECORD_ATTEMPT = Statement(
    "outbox_record_attempt",
    "UPDATE audit_outbox SET attempts = attempts + 1, last_error = $1 WHERE id = ANY($2::bigint[])",
)
COUNT_PENDING = Statement(
    "outbox_count", "SELECT count(*) FROM audit_outbox WHERE failed_at IS NULL"
)


@dataclass(frozen=True)
class Row:
    id: int
    event: dict


def insert(cursor, event: dict) -> None:
    """The event of a request that changed nothing, alone."""
    execute(cursor, INSERT, (json.dumps(event),))


def claim(cursor, limit: int) -> list[Row]:
    """Up to `limit` deliverable rows, oldest first, locked for this transaction;
    rows another transaction holds are skipped, so relays never wait for each other."""
    execute(cursor, CLAIM, (limit,))
    return [Row(row_id, payload) for row_id, payload in cursor.fetchall()]


def delete(cursor, rows: list[Row]) -> list[float]:
    """Delivered: gone. Returns each row's age in seconds (its delivery lag)."""
    execute(cursor, DELETE, ([row.id for row in rows],))
    return [float(lag) for (lag,) in cursor.fetchall()]


def mark_failed(cursor, row: Row, reason: str) -> None:
    """Rejected: kept, never delivered again, with the reason."""
    execute(cursor, MARK_FAILED, (reason[:ERROR_TEXT_MAX_LENGTH], row.id))


def record_attempt(cursor, rows: list[Row], description: str) -> None:
    """Not delivered this time: counted, with what went wrong; retried later."""
    execute(cursor, RECORD_ATTEMPT, (description[:ERROR_TEXT_MAX_LENGTH], [row.id for row in rows]))


def count_pending(cursor) -> int:
    execute(cursor, COUNT_PENDING)
    return cursor.fetchone()[0]
