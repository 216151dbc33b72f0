"""The HTTP call to audit-service's POST /events (DESIGN §3), and what its answer means."""

import json
import uuid
from dataclasses import dataclass

import requests

HTTP_TIMEOUT_SECONDS = (2.0, 5.0)  # connect, read


@dataclass(frozen=True)
class Answer:
    """What audit-service said to a batch."""

    accepted: bool
    rejected: dict[int, str]  # index in the batch -> reason
    failure_reason: str | None  # metric label when neither accepted nor rejected
    description: str


class AuditClient:
    def __init__(self, audit_service_url: str, audit_token: str):
        self._events_url = f"{audit_service_url}/events"
        self._authorization = f"Bearer {audit_token}"
        self._http = requests.Session()

    def post(self, events: list[dict]) -> Answer:
        # A batch of one carries its request's id, so the two services' logs meet.
        request_id = events[0].get("request_id") if len(events) == 1 else None
        try:
            response = self._http.post(
                self._events_url,
                data=json.dumps(events),
                headers={
                    "Authorization": self._authorization,
                    "Content-Type": "application/json",
                    "X-Request-ID": request_id or f"audit-relay-{uuid.uuid4().hex}",
                },
                timeout=HTTP_TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            return Answer(False, {}, "unavailable", f"audit-service unreachable: {error}")
        if 200 <= response.status_code < 300:
            return Answer(True, {}, None, "accepted")
        description = f"audit-service answered {response.status_code}: {response.text[:200]}"
        if response.status_code in (401, 403):
            return Answer(False, {}, "unauthorized", description)
        # 400: invalid events; 409: events whose id is stored with other content.
        # Either answer names the events at fault by their index in the batch.
        if response.status_code in (400, 409):
            rejected = _rejected_indices(response, len(events))
            if rejected:
                return Answer(False, rejected, None, description)
        return Answer(False, {}, "unavailable", description)


def _rejected_indices(response: requests.Response, batch_length: int) -> dict[int, str]:
    """Which events a 400 or 409 names as refused, with the reason."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return {}
    rejected = {}
    for error in errors:
        index = error.get("index") if isinstance(error, dict) else None
        if isinstance(index, int) and 0 <= index < batch_length:
            rejected.setdefault(index, f"{error.get('field')}: {error.get('message')}")
    return rejected
