"""One audit event per request under /items, written to the outbox in the
request's own transaction (DESIGN §3)."""

import json
import logging
import uuid
from datetime import UTC, datetime

from flask import Flask, g, request

from items_service import request_transaction
from service_common.database import UNAVAILABLE_ERRORS, execute
from service_common.problems import database_unavailable_response
from service_common.request_ids import current_request_id

SERVICE_NAME = "items-service"
COLLECTION = "/items"
RESOURCE_ID_MAX_LENGTH = 64
ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
log = logging.getLogger(__name__)


def audited_action(method: str, path: str) -> tuple[str, str | None] | None:
    """(action, resource_id) for a request that is audited, else None.

    HEAD and OPTIONS are not audited (DESIGN §3), nor methods that name no
    operation on items (TRACE, made-up verbs): they get a 405 and no event.
    """
    if path == COLLECTION or path == COLLECTION + "/":
        resource_id = None
    elif path.startswith(COLLECTION + "/"):
        resource_id = _printable(path[len(COLLECTION) + 1 :])[:RESOURCE_ID_MAX_LENGTH]
    else:
        return None
    if method == "GET":
        action = "list" if resource_id is None else "read"
    elif method in ACTIONS:
        action = ACTIONS[method]
    else:
        return None
    return f"item.{action}", resource_id


def _printable(text: str) -> str:
    # jsonb cannot hold NUL, and control characters have no place in an id.
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def build_event(action: str, resource_id: str | None, status_code: int, details: dict) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "service": SERVICE_NAME,
        "action": action,
        "resource_type": "item",
        "resource_id": resource_id,
        "status_code": status_code,
        "request_id": current_request_id(),
        "client_ip": request.remote_addr,
        "details": details,
    }


def _details(response) -> dict:
    details = g.get("audit_details", {})
    if response.status_code >= 400 and response.is_json:
        details = {"error": (response.get_json(silent=True) or {}).get("detail", "")[:200]}
    return details


def register_audit_recorder(app: Flask, on_recorded) -> None:
    """Adds the event to the request's transaction and commits both.

    `on_recorded` is called after the commit (it wakes the outbox relay)."""

    @app.after_request
    def record_audit_event(response):
        audited = audited_action(request.method, request.path)
        if audited is None or response.status_code >= 500:
            return response
        action, resource_id = audited
        event = build_event(action, resource_id, response.status_code, _details(response))
        try:
            with request_transaction.cursor() as cursor:
                execute(
                    cursor,
                    "outbox_insert",
                    "INSERT INTO audit_outbox (event_id, payload) VALUES (%s, %s)",
                    (event["event_id"], json.dumps(event)),
                )
            request_transaction.commit()
        except UNAVAILABLE_ERRORS as error:
            log.warning("request not recorded, database unavailable: %s", str(error).strip())
            return database_unavailable_response()
        on_recorded()
        return response

    @app.teardown_request
    def release_transaction(_error):
        request_transaction.release()
