"""POST /events: the internal endpoint items-service's relay delivers to (DESIGN §3)."""

import hmac
import json
import logging

from flask import Blueprint, current_app, jsonify, request
from psycopg2.extras import Json, execute_values

from audit_service.metrics import AUDIT_EVENTS_PROCESSED
from audit_service.validation import EventRow, RejectedEvents, event_rows
from service_common.database import commit, timed
from service_common.json_body import read_json_body
from service_common.problems import Problem

blueprint = Blueprint("events", __name__)
log = logging.getLogger(__name__)

COLUMNS = ", ".join(EventRow._fields)
CONTENT = [field for field in EventRow._fields if field != "event_id"]
INSERT_EVENTS = f"""
    INSERT INTO audit_logs ({COLUMNS})
    VALUES %s
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
"""  # noqa: S608 (the column names are EventRow's own)
# The positions of the events whose id is stored with other content. Compared
# by PostgreSQL, so that each value is compared as stored (jsonb, inet, ...).
CONFLICTING_EVENTS = f"""
    SELECT sent.position
    FROM (VALUES %s) AS sent (position, {COLUMNS})
    JOIN audit_logs AS stored USING (event_id)
    WHERE ({", ".join(f"stored.{field}" for field in CONTENT)})
          IS DISTINCT FROM
          ({", ".join(f"sent.{field}" for field in CONTENT)})
    ORDER BY sent.position
"""  # noqa: S608 (the column names are EventRow's own)
# VALUES has no column types to go by: the types audit_logs stores, in EventRow's order.
SQL_TYPES = {
    "event_id": "uuid",
    "client_ip": "inet",
    "details": "jsonb",
    "occurred_at": "timestamptz",
}
CONFLICT_TEMPLATE = "(%s, {})".format(
    ", ".join(
        f"%s::{SQL_TYPES[field]}" if field in SQL_TYPES else "%s" for field in EventRow._fields
    )
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


def _values(row: EventRow) -> tuple:
    return tuple(row._replace(details=Json(row.details, dumps=json.dumps)))


def _conflicts(cursor, rows: list[EventRow]) -> list[int]:
    """Positions of the events whose id is already stored, by another request
    or earlier in this one, with other content."""
    with timed("event_conflict_check"):
        return [
            position
            for (position,) in execute_values(
                cursor,
                CONFLICTING_EVENTS,
                [(position, *_values(row)) for position, row in enumerate(rows)],
                template=CONFLICT_TEMPLATE,
                page_size=len(rows),
                fetch=True,
            )
        ]


@blueprint.post("/events")
def store_events():
    _require_token()
    try:
        rows = event_rows(read_json_body())
    except RejectedEvents as rejected:
        AUDIT_EVENTS_PROCESSED.labels("rejected").inc(rejected.count)
        raise
    database = current_app.extensions["database"]
    with database.connection() as connection, connection.cursor() as cursor:
        with timed("event_insert"):
            inserted = execute_values(
                cursor,
                INSERT_EVENTS,
                [_values(row) for row in rows],
                page_size=len(rows),
                fetch=True,
            )
        # Only an event id already stored (or repeated in the batch) can hide
        # a conflict; the check costs nothing when every event was new. An
        # insert that met a concurrent request's uncommitted row waited for it,
        # so the check sees that row as committed.
        conflicts = _conflicts(cursor, rows) if len(inserted) < len(rows) else []
        if conflicts:
            connection.rollback()
            _reject_conflicts(rows, conflicts)
        commit(connection)
    stored = len(inserted)
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
