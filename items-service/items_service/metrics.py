"""items-service's own metrics (DESIGN §6)."""

from prometheus_client import Counter, Gauge, Histogram

ITEMS_CREATED = Counter("items_created_total", "Items created.")
ITEMS_RETRIEVED = Counter(
    "items_retrieved_total", "Items returned by reads (lists count each item)."
)
ITEMS_UPDATED = Counter("items_updated_total", "Items updated.")
ITEMS_DELETED = Counter("items_deleted_total", "Items deleted.")

AUDIT_OUTBOX_PENDING = Gauge(
    "audit_outbox_pending",
    "Audit events waiting in the outbox for delivery (rejected events excluded).",
    multiprocess_mode="livemostrecent",
)
AUDIT_OUTBOX_LIMIT = Gauge(
    "audit_outbox_limit",
    "Rows the outbox may hold (AUDIT_OUTBOX_LIMIT); at the limit, audited requests get 503.",
    multiprocess_mode="livemax",
)
AUDIT_OUTBOX_FULL_REFUSALS = Counter(
    "audit_outbox_full_refusals_total",
    "Requests refused with 503, not carried out, because the outbox was at its limit.",
)
AUDIT_EVENTS_DELIVERED = Counter(
    "audit_events_delivered_total", "Audit events acknowledged by audit-service."
)
AUDIT_DELIVERY_FAILURES = Counter(
    "audit_delivery_failures_total",
    "Audit events a delivery attempt did not deliver, by reason: unavailable "
    "(audit-service unreachable or failing; retried), unauthorized (token refused; "
    "retried), rejected (event refused as invalid; kept in the outbox, not retried).",
    ["reason"],
)
AUDIT_DELIVERY_LAG = Histogram(
    "audit_delivery_lag_seconds",
    "Time from an audit event's outbox row being written to its acknowledgement by audit-service.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)

# Series that exist from the start, at 0, so that rate() and alerts see the first failure.
for _reason in ("unavailable", "unauthorized", "rejected"):
    AUDIT_DELIVERY_FAILURES.labels(_reason)
