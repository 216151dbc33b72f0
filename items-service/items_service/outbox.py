"""The outbox table (DESIGN §3): every statement on audit_outbox.

A request writes its event here in its own transaction (insert); the relay
claims deliverable rows, deletes them once audit-service has them, and keeps
the ones it rejects, marked failed, with the reason."""

import json
from dataclasses import dataclass

from service_common.database import execute

ERROR_TEXT_MAX_LENGTH = 500


@dataclass(frozen=True)
class Row:
    id: int
    event: dict


def insert(cursor, event: dict) -> None:
    execute(
        cursor,
        "outbox_insert",
        "INSERT INTO audit_outbox (event_id, payload) VALUES (%s, %s)",
        (event["event_id"], json.dumps(event)),
    )


def claim(cursor, limit: int) -> list[Row]:
    """Up to `limit` deliverable rows, oldest first, locked for this transaction;
    rows another transaction holds are skipped, so relays never wait for each other."""
    execute(
        cursor,
        "outbox_claim",
        "SELECT id, payload FROM audit_outbox WHERE failed_at IS NULL"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    )
    return [Row(row_id, payload) for row_id, payload in cursor.fetchall()]


def delete(cursor, rows: list[Row]) -> list[float]:
    """Delivered: gone. Returns each row's age in seconds (its delivery lag)."""
    execute(
        cursor,
        "outbox_delete",
        "DELETE FROM audit_outbox WHERE id = ANY(%s)"
        " RETURNING extract(epoch FROM clock_timestamp() - created_at)",
        ([row.id for row in rows],),
    )
    return [float(lag) for (lag,) in cursor.fetchall()]


def mark_failed(cursor, row: Row, reason: str) -> None:
    """Rejected: kept, never delivered again, with the reason."""
    execute(
        cursor,
        "outbox_mark_failed",
        "UPDATE audit_outbox SET failed_at = now(), attempts = attempts + 1,"
        " last_error = %s WHERE id = %s",
        (reason[:ERROR_TEXT_MAX_LENGTH], row.id),
    )


def record_attempt(cursor, rows: list[Row], description: str) -> None:
    """Not delivered this time: counted, with what went wrong; retried later."""
    execute(
        cursor,
        "outbox_record_attempt",
        "UPDATE audit_outbox SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)",
        (description[:ERROR_TEXT_MAX_LENGTH], [row.id for row in rows]),
    )


def count_pending(cursor) -> int:
    execute(cursor, "outbox_count", "SELECT count(*) FROM audit_outbox WHERE failed_at IS NULL")
    return cursor.fetchone()[0]
