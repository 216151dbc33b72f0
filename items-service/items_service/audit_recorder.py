"""One audit event per request under /items, written to the outbox in the
request's own transaction (DESIGN §3)."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, g, request

from items_service import outbox, request_transaction, validation
from service_common.database import UNAVAILABLE_ERRORS
from service_common.problems import database_unavailable_response
from service_common.request_ids import current_request_id

SERVICE_NAME = "items-service"
COLLECTION = "/items"
RESOURCE_ID_MAX_LENGTH = 64
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
    """The item's canonical id (42 for "/items/0042", the new item's for a
    create), or None when the request names no item."""
    created = g.get("audit_created_item_id")
    if created is not None:
        return str(created)
    item_id = validation.item_id(audited.segment) if audited.segment is not None else None
    return None if item_id is None else str(item_id)


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
        audited = audited_request(request.method, request.path)
        if audited is None or response.status_code >= 500:
            return response
        resource_id = _resource_id(audited)
        details = _details(response)
        if audited.segment is not None and audited.segment != resource_id:
            # What the client wrote ("0042", "abc"), when it is not the id itself.
            details = {**details, "requested_id": audited.segment}
        event = build_event(audited.action, resource_id, response.status_code, details)
        try:
            with request_transaction.cursor() as cursor:
                outbox.insert(cursor, event)
            request_transaction.commit()
        except UNAVAILABLE_ERRORS as error:
            log.warning("request not recorded, database unavailable: %s", str(error).strip())
            return database_unavailable_response()
        on_recorded()
        return response
