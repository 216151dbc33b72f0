"""audit-service's own metrics (DESIGN §6)."""

from prometheus_client import Counter, Gauge

AUDIT_EVENTS_PROCESSED = Counter(
    "audit_events_processed_total",
    "Audit events received, by result: stored, duplicate (already stored with the same "
    "content, dropped), rejected (invalid; the whole request was refused) or conflict "
    "(its event id is stored with other content; the whole request was refused).",
    ["result"],
)

DATABASE_SIZE = Gauge(
    "database_size_bytes",
    "Size of the database's files (pg_database_size; write-ahead log not included).",
    multiprocess_mode="livemax",
)
DATABASE_VOLUME_SIZE = Gauge(
    "database_volume_size_bytes",
    "Size of the volume the database lives on, when the deployment knows it "
    "(the in-cluster PostgreSQL's claim); 0 when it does not.",
    multiprocess_mode="livemax",
)
AUDIT_OLDEST_EVENT_AGE = Gauge(
    "audit_oldest_event_age_seconds",
    "Age of the oldest event in audit_logs (since it was stored); 0 when there is none.",
    multiprocess_mode="livemax",
)
AUDIT_RETENTION = Gauge(
    "audit_retention_seconds",
    "How long audit_logs keeps an event (AUDIT_RETENTION_DAYS), when the deployment "
    "tells it; 0 when it does not.",
    multiprocess_mode="livemax",
)

# Series that exist from the start, at 0, so that rate() and alerts see the first rejection.
for _result in ("stored", "duplicate", "rejected", "conflict"):
    AUDIT_EVENTS_PROCESSED.labels(_result)
