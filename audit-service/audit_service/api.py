"""POST /events: the internal endpoint items-service's relay delivers to (DESIGN §3)."""

import hmac
import json

from flask import Blueprint, current_app, jsonify, request
from psycopg2.extras import Json, execute_values

from audit_service.metrics import AUDIT_EVENTS_PROCESSED
from audit_service.validation import RejectedEvents, event_rows
from service_common.database import commit, timed
from service_common.json_body import read_json_body
from service_common.problems import Problem

blueprint = Blueprint("events", __name__)

INSERT_EVENTS = """
    INSERT INTO audit_logs (event_id, service, action, resource_type, resource_id,
                            status_code, request_id, client_ip, details, occurred_at)
    VALUES %s
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
"""


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
                [(*row[:8], Json(row[8], dumps=json.dumps), row[9]) for row in rows],
                page_size=len(rows),
                fetch=True,
            )
        commit(connection)
    stored = len(inserted)
    duplicate = len(rows) - stored
    AUDIT_EVENTS_PROCESSED.labels("stored").inc(stored)
    AUDIT_EVENTS_PROCESSED.labels("duplicate").inc(duplicate)
    return jsonify(stored=stored, duplicate=duplicate)
