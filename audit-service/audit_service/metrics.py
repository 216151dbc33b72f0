"""audit-service's own metrics (DESIGN §6)."""

from prometheus_client import Counter

AUDIT_EVENTS_PROCESSED = Counter(
    "audit_events_processed_total",
    "Audit events received, by result: stored, duplicate (already stored with the same "
    "content, dropped), rejected (invalid; the whole request was refused) or conflict "
    "(its event id is stored with other content; the whole request was refused).",
    ["result"],
)

# Series that exist from the start, at 0, so that rate() and alerts see the first rejection.
for _result in ("stored", "duplicate", "rejected", "conflict"):
    AUDIT_EVENTS_PROCESSED.labels(_result)
