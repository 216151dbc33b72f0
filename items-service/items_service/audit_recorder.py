"""One audit event per request under /items (DESIGN §3). A request that
changes or reads items has its event written by the statement that does it
(store.py, with the events built here); any other answer gets its event
written alone, after the view (register_audit_recorder)."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, request

from items_service import outbox, request_connection, validation
from service_common.database import UNAVAILABLE_ERRORS
from service_common.problems import database_unavailable_response
from service_common.request_ids import current_request_id

SERVICE_NAME = "items-service"
COLLECTION = "/items"
RESOURCE_ID_MAX_LENGTH = 64
ERROR_DETAIL_MAX_LENGTH = 200
ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
READS = ("GET", "HEAD")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditedRequest:
    action: str
    segment: str | None  # what the path names after /items/, printable; None: the collection


def audited_request(method: str, path: str) -> AuditedRequest | None:
    """What a request under /items is audited as, or None when it is not audited.

    The rule (DESIGN §3): every request to /items or /items/... with method GET,
    HEAD, POST, PUT, PATCH or DELETE that the application answers below 500 has
    exactly one event. OPTIONS, TRACE and made-up methods touch no item and
    have none; neither do answers of 500 and above (the only one a client can
    see is 503, while the database, where the event would go, is unreachable).
    """
    if path == COLLECTION or path == COLLECTION + "/":
        segment = None
    elif path.startswith(COLLECTION + "/"):
        segment = _printable(path[len(COLLECTION) + 1 :])[:RESOURCE_ID_MAX_LENGTH]
    else:
        return None
    if method in READS:
        action = "list" if segment is None else "read"
    elif method in ACTIONS:
        action = ACTIONS[method]
    else:
        return None
    return AuditedRequest(f"item.{action}", segment)


def _printable(text: str) -> str:
    # jsonb cannot hold NUL, and control characters have no place in an id.
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _resource_id(audited: AuditedRequest) -> str | None:
    """The item's canonical id (42 for "/items/0042"), or None when the request
    names no item (a create's is filled in by its statement)."""
    item_id = validation.item_id(audited.segment) if audited.segment is not None else None
    return None if item_id is None else str(item_id)


def answer(status_code: int, details: dict | None = None) -> dict:
    """How the current request was answered, as its event tells it: the status
    and the details. Merged over an event (jsonb ||), it makes the event of
    another answer to the same request."""
    audited = audited_request(request.method, request.path)
    details = details or {}
    if audited.segment is not None and audited.segment != _resource_id(audited):
        # What the client wrote ("0042", "abc"), when it is not the id itself.
        details = {**details, "requested_id": audited.segment}
    return {"status_code": status_code, "details": details}


def event(status_code: int, details: dict | None = None) -> dict:
    """The current request's event, were it answered with this status and details."""
    audited = audited_request(request.method, request.path)
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "service": SERVICE_NAME,
        "action": audited.action,
        "resource_type": "item",
        "resource_id": _resource_id(audited),
        "request_id": current_request_id(),
        "client_ip": request.remote_addr,
        **answer(status_code, details),
    }


def error_details(detail: str) -> dict:
    return {"error": detail[:ERROR_DETAIL_MAX_LENGTH]}


def _answer_details(response) -> dict:
    if response.status_code >= 400 and response.is_json:
        return error_details((response.get_json(silent=True) or {}).get("detail", ""))
    return {}


def register_audit_recorder(app: Flask, on_recorded) -> None:
    """Writes the event of an answer whose view wrote none (an invalid request,
    a route that does not exist, a method it does not allow), alone.

    `on_recorded` is called once the request's event is stored (it wakes the
    outbox relay)."""

    @app.after_request
    def record_audit_event(response):
        audited = audited_request(request.method, request.path)
        if audited is None or response.status_code >= 500:
            return response
        if not request_connection.event_written():
            try:
                with request_connection.cursor() as cursor:
                    outbox.insert(cursor, event(response.status_code, _answer_details(response)))
            except UNAVAILABLE_ERRORS as error:
                log.warning("request not recorded, database unavailable: %s", str(error).strip())
                return database_unavailable_response()
        on_recorded()
        return response
