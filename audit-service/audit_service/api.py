"""POST /events: the internal endpoint items-service's relay delivers to (DESIGN §3)."""

import hmac
import json
import logging

from flask import Blueprint, current_app, jsonify, request

from audit_service.metrics import AUDIT_EVENTS_PROCESSED
from audit_service.validation import EventRow, RejectedEvents, event_rows
from service_common.database import Statement, commit, execute
from service_common.json_body import read_json_body
from service_common.problems import Problem

blueprint = Blueprint("events", __name__)
log = logging.getLogger(__name__)

COLUMNS = ", ".join(EventRow._fields)
CONTENT = [field for field in EventRow._fields if field != "event_id"]
# The types audit_logs stores, in EventRow's order.
SQL_TYPES = {
    "event_id": "uuid",
    "service": "text",
    "action": "text",
    "resource_type": "text",
    "resource_id": "text",
    "status_code": "smallint",
    "request_id": "text",
    "client_ip": "inet",
    "details": "jsonb",
    "occurred_at": "timestamptz",
}
# The whole batch is one parameter, a JSON array of rows (_rows_json), so that
# the statements are prepared once whatever the batch's size.
SENT = "jsonb_to_recordset($1::jsonb) AS sent ({}, position integer)".format(
    ", ".join(f"{field} {SQL_TYPES[field]}" for field in EventRow._fields)
)
INSERT_EVENTS = Statement(
    "event_insert",
    f"""
    INSERT INTO audit_logs ({COLUMNS})
    SELECT {COLUMNS} FROM {SENT} ORDER BY position
    ON CONFLICT (event_id) DO NOTHING
    """,  # noqa: S608 (the column names are EventRow's own)
)
# The positions of the events whose id is stored with other content. Compared
# by PostgreSQL, so that each value is compared as stored (jsonb, inet, ...).
CONFLICTING_EVENTS = Statement(
    "event_conflict_check",
    f"""
    SELECT sent.position
    FROM {SENT}
    JOIN audit_logs AS stored USING (event_id)
    WHERE ({", ".join(f"stored.{field}" for field in CONTENT)})
          IS DISTINCT FROM
          ({", ".join(f"sent.{field}" for field in CONTENT)})
    ORDER BY sent.position
    """,  # noqa: S608 (the column names are EventRow's own)
)
CONFLICT_MESSAGE = "is already stored with other content: an event id names one event only"


def _require_token() -> None:
    expected = current_app.config["AUDIT_TOKEN"].encode()
    scheme, _, provided = request.headers.get("Authorization", "").partition(" ")
    # compare_digest takes as long whatever the token, so timing reveals nothing.
    if scheme.lower() != "bearer" or not hmac.compare_digest(provided.encode(), expected):
        raise Problem(
            401,
            "A valid bearer token is required.",
            headers={"WWW-Authenticate": 'Bearer realm="audit-service"'},
        )


def _rows_json(rows: list[EventRow]) -> str:
    return json.dumps(
        [
            {**row._asdict(), "occurred_at": row.occurred_at.isoformat(), "position": position}
            for position, row in enumerate(rows)
        ]
    )


def _conflicts(cursor, sent: str) -> list[int]:
    """Positions of the events whose id is already stored, by another request
    or earlier in this one, with other content."""
    execute(cursor, CONFLICTING_EVENTS, (sent,))
    return [position for (position,) in cursor.fetchall()]


@blueprint.post("/events")
def store_events():
    _require_token()
    try:
        rows = event_rows(read_json_body())
    except RejectedEvents as rejected:
        AUDIT_EVENTS_PROCESSED.labels("rejected").inc(rejected.count)
        raise
    database = current_app.extensions["database"]
    sent = _rows_json(rows)
    with database.connection() as connection, connection.cursor() as cursor:
        execute(cursor, INSERT_EVENTS, (sent,))
        inserted = cursor.rowcount
        # Only an event id already stored (or repeated in the batch) can hide
        # a conflict; the check costs nothing when every event was new. An
        # insert that met a concurrent request's uncommitted row waited for it,
        # so the check sees that row as committed.
        conflicts = _conflicts(cursor, sent) if inserted < len(rows) else []
        if conflicts:
            connection.rollback()
            _reject_conflicts(rows, conflicts)
        commit(connection)
    stored = inserted
    duplicate = len(rows) - stored
    AUDIT_EVENTS_PROCESSED.labels("stored").inc(stored)
    AUDIT_EVENTS_PROCESSED.labels("duplicate").inc(duplicate)
    return jsonify(stored=stored, duplicate=duplicate)


def _reject_conflicts(rows: list[EventRow], positions: list[int]) -> None:
    AUDIT_EVENTS_PROCESSED.labels("conflict").inc(len(positions))
    for position in positions:
        log.warning(
            "event %s (index %d) conflicts with the stored event of the same id;"
            " the request is refused",
            rows[position].event_id,
            position,
        )
    # 409, not 400: each event is valid on its own, but its id is taken.
    raise Problem(
        409,
        f"{len(positions)} event(s) reuse an event id stored with other content; nothing was"
        f" stored. First: event {positions[0]}.",
        errors=[
            {"index": position, "field": "event_id", "message": CONFLICT_MESSAGE}
            for position in positions
        ],
    )
