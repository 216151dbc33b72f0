"""Validation of audit events (DESIGN §3): every field of every event is
checked before anything is stored, and each problem names its event's index."""

import functools
import ipaddress
import json
import math
import re
from datetime import UTC, datetime
from typing import NamedTuple

from service_common.json_body import storable_text
from service_common.problems import Problem

MAX_BATCH = 500
# The largest body audit-service reads: room for a full batch of MAX_BATCH events.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DETAILS_DEPTH = 16
MAX_DETAILS_CHARACTERS = 16 * 1024
CLIENT_ADDRESSES_REMEMBERED = 1024
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
ACTION = re.compile(r"[a-z][a-z0-9_-]*\.[a-z][a-z0-9_.-]*")
# The longest each text field may be: audit_logs' varchar columns, which the
# OpenAPI document states too.
TEXT_LIMITS = {
    "service": 64,
    "action": 64,
    "resource_type": 64,
    "resource_id": 64,
    "request_id": 128,
}


class EventRow(NamedTuple):
    """One validated event, as audit_logs stores it: its fields are the columns."""

    event_id: str
    service: str
    action: str
    resource_type: str
    resource_id: str | None
    status_code: int
    request_id: str
    client_ip: str | None
    details: dict
    occurred_at: datetime


FIELDS = frozenset(EventRow._fields)
REQUIRED = (
    "event_id",
    "occurred_at",
    "service",
    "action",
    "resource_type",
    "status_code",
    "request_id",
)


class Invalid(Exception):
    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _text(event: dict, field: str, *, nullable: bool = False) -> str | None:
    max_length = TEXT_LIMITS[field]
    value = event.get(field)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value:
        raise Invalid(field, "must be a non-empty string" + (" or null" if nullable else ""))
    if len(value) > max_length:
        raise Invalid(field, f"must be at most {max_length} characters long")
    if not storable_text(value):
        raise Invalid(field, "must not contain NUL characters or unpaired surrogates")
    return value


def _occurred_at(event: dict) -> datetime:
    value = event.get("occurred_at")
    if isinstance(value, str) and RFC3339.fullmatch(value):
        try:
            # In UTC: RFC 3339 allows offsets up to 23:59, PostgreSQL only up to 15:59.
            return datetime.fromisoformat(value.upper()).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise Invalid(
        "occurred_at", "must be an RFC 3339 date-time with a time zone, years 0001-9999 in UTC"
    )


def _status_code(event: dict) -> int:
    value = event.get("status_code")
    # JSON Schema counts 201.0 as an integer; bool is not one.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise Invalid("status_code", "must be an integer from 100 to 599")
    return value


@functools.lru_cache(maxsize=CLIENT_ADDRESSES_REMEMBERED)
def _canonical_address(value: str) -> str | None:
    """The address as PostgreSQL's inet writes it, or None when it is none.
    Remembered: a batch holds few clients, and the parsing is pure Python."""
    # PostgreSQL's inet takes no IPv6 zone index ("%eth0").
    if "%" in value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _client_ip(event: dict) -> str | None:
    value = event.get("client_ip")
    if value is None:
        return None
    address = _canonical_address(value) if isinstance(value, str) else None
    if address is None:
        raise Invalid("client_ip", "must be an IPv4 or IPv6 address, or null")
    return address


def _check_storable_json(value, depth: int = 0) -> None:
    """jsonb refuses NUL characters, lone surrogates and non-finite numbers."""
    if depth > MAX_DETAILS_DEPTH:
        raise Invalid("details", f"must not be nested more than {MAX_DETAILS_DEPTH} levels deep")
    if isinstance(value, str) and not storable_text(value):
        raise Invalid("details", "must not contain NUL characters or unpaired surrogates")
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid("details", "must not contain non-finite numbers")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_storable_json(key, depth + 1)
            _check_storable_json(item, depth + 1)
    if isinstance(value, list):
        for item in value:
            _check_storable_json(item, depth + 1)


def _details(event: dict) -> dict:
    value = event.get("details", {})
    if not isinstance(value, dict):
        raise Invalid("details", "must be a JSON object")
    _check_storable_json(value)
    if len(json.dumps(value)) > MAX_DETAILS_CHARACTERS:
        raise Invalid("details", f"must be at most {MAX_DETAILS_CHARACTERS} characters as JSON")
    return value


def event_row(event) -> EventRow:
    """The audit_logs values of one event, or Invalid naming the first bad field."""
    if not isinstance(event, dict):
        raise Invalid(None, "must be a JSON object")
    for field in event:
        if field not in FIELDS:
            raise Invalid(field, "is not a known field")
    for field in REQUIRED:
        if field not in event:
            raise Invalid(field, "is required")
    event_id = event["event_id"]
    if not isinstance(event_id, str) or not UUID.fullmatch(event_id):
        raise Invalid("event_id", "must be a UUID")
    action = _text(event, "action")
    if not ACTION.fullmatch(action):
        raise Invalid("action", "must look like 'resource.verb' in lowercase, e.g. item.create")
    return EventRow(
        event_id=event_id.lower(),
        service=_text(event, "service"),
        action=action,
        resource_type=_text(event, "resource_type"),
        resource_id=_text(event, "resource_id", nullable=True),
        status_code=_status_code(event),
        request_id=_text(event, "request_id"),
        client_ip=_client_ip(event),
        details=_details(event),
        occurred_at=_occurred_at(event),
    )


def event_rows(body) -> list[EventRow]:
    """Rows for a valid body (one event or an array of them); RejectedEvents,
    listing every invalid event, when any is invalid."""
    events = body if isinstance(body, list) else [body]
    if isinstance(body, list) and not 1 <= len(body) <= MAX_BATCH:
        raise Problem(400, f"Send one event or an array of 1 to {MAX_BATCH} events.")
    rows, errors = [], []
    for index, event in enumerate(events):
        try:
            rows.append(event_row(event))
        except Invalid as invalid:
            errors.append({"index": index, "field": invalid.field, "message": invalid.message})
    if errors:
        raise RejectedEvents(errors)
    return rows


class RejectedEvents(Problem):
    def __init__(self, errors: list[dict]):
        first = errors[0]
        super().__init__(
            400,
            f"{len(errors)} invalid event(s); nothing was stored. First: event {first['index']}, "
            f"field {first['field']}: {first['message']}.",
            errors=errors,
        )
        self.count = len(errors)
