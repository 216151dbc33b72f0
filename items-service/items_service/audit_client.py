"""The HTTP call to audit-service's POST /events (DESIGN §3), and what its answer means."""

import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

HTTP_TIMEOUT = urllib3.Timeout(connect=2.0, read=5.0)


@dataclass(frozen=True)
class Answer:
    """What audit-service said to a batch."""

    accepted: bool
    rejected: dict[int, str]  # index in the batch -> reason
    failure_reason: str | None  # metric label when neither accepted nor rejected
    description: str


class AuditClient:
    """One kept-alive connection to audit-service: urllib3 rather than requests,
    whose per-call work (proxy lookups in the environment, merged settings)
    cost the relay more than the call itself (docs/performance.md)."""

    def __init__(self, audit_service_url: str, audit_token: str):
        self._events_path = f"{urlsplit(audit_service_url).path}/events"
        self._authorization = f"Bearer {audit_token}"
        self._http = urllib3.connection_from_url(
            audit_service_url, maxsize=1, retries=False, timeout=HTTP_TIMEOUT
        )

    def post(self, events: list[dict]) -> Answer:
        # A batch of one carries its request's id, so the two services' logs meet.
        request_id = events[0].get("request_id") if len(events) == 1 else None
        try:
            response = self._http.urlopen(
                "POST",
                self._events_path,
                body=json.dumps(events).encode(),
                headers={
                    "Authorization": self._authorization,
                    "Content-Type": "application/json",
                    "X-Request-ID": request_id or f"audit-relay-{uuid.uuid4().hex}",
                },
            )
        except urllib3.exceptions.HTTPError as error:
            return Answer(False, {}, "unavailable", f"audit-service unreachable: {error}")
        if 200 <= response.status < 300:
            return Answer(True, {}, None, "accepted")
        text = response.data.decode(errors="replace")
        description = f"audit-service answered {response.status}: {text[:200]}"
        if response.status in (401, 403):
            return Answer(False, {}, "unauthorized", description)
        # 400: invalid events; 409: events whose id is stored with other content.
        # Either answer names the events at fault by their index in the batch.
        if response.status in (400, 409):
            rejected = _rejected_indices(text, len(events))
            if rejected:
                return Answer(False, rejected, None, description)
        return Answer(False, {}, "unavailable", description)


def _rejected_indices(text: str, batch_length: int) -> dict[int, str]:
    """Which events a 400 or 409 names as refused, with the reason."""
    try:
        errors = json.loads(text).get("errors") or []
    except (ValueError, AttributeError):
        return {}
    rejected = {}
    for error in errors:
        index = error.get("index") if isinstance(error, dict) else None
        if isinstance(index, int) and 0 <= index < batch_length:
            rejected.setdefault(index, f"{error.get('field')}: {error.get('message')}")
    return rejected
