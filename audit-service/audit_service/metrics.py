"""audit-service's own metrics (DESIGN §6)."""

from prometheus_client import Counter

AUDIT_EVENTS_PROCESSED = Counter(
    "audit_events_processed_total",
    "Audit events received, by result: stored, duplicate (already stored, dropped) "
    "or rejected (invalid; the whole request was refused).",
    ["result"],
)
