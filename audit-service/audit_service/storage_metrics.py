"""How full the database's volume is and whether retention keeps up (DESIGN
§6), for the alerts of monitoring/rules/storage.yml. The stack's own
Prometheus scrapes only the services' pods, never the kubelet's volume
statistics, so audit-service, which stores what grows, reports the database's
size, the volume's size and the retention period when the deployment tells
them (DATABASE_VOLUME_BYTES, AUDIT_RETENTION_DAYS), and the age of the oldest
stored event.

They are read when /metrics is scraped (create_base_app's before_scrape), at most
every REFRESH_INTERVAL_SECONDS per worker: pg_database_size walks the database's
files, cheap but not free."""

import logging
import threading
import time

import psycopg2

from audit_service.metrics import (
    AUDIT_OLDEST_EVENT_AGE,
    AUDIT_RETENTION,
    DATABASE_SIZE,
    DATABASE_VOLUME_SIZE,
)
from service_common.database import Database, DatabaseUnavailable

REFRESH_INTERVAL_SECONDS = 15.0
log = logging.getLogger(__name__)


# The oldest event by the created_at index: one index entry, not a scan.
READ = """
SELECT pg_database_size(current_database()),
    coalesce(extract(epoch FROM now() - (SELECT min(created_at) FROM audit_logs)), 0)
"""


class StorageMetrics:
    def __init__(self, database: Database, volume_bytes: int | None, retention_days: int | None):
        self._database = database
        self._lock = threading.Lock()
        self._refreshed_at = float("-inf")
        if volume_bytes:
            DATABASE_VOLUME_SIZE.set(volume_bytes)
        if retention_days:
            AUDIT_RETENTION.set(retention_days * 86400)

    def refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._refreshed_at < REFRESH_INTERVAL_SECONDS:
                return
            try:
                with self._database.connection() as connection, connection.cursor() as cursor:
                    cursor.execute(READ)
                    size, oldest_age = cursor.fetchone()
                    connection.rollback()
            except (DatabaseUnavailable, psycopg2.Error) as error:
                # Readiness and PostgresUnreachable report the outage itself.
                log.warning("storage metrics not read: %s", str(error).strip())
                return
            DATABASE_SIZE.set(size)
            AUDIT_OLDEST_EVENT_AGE.set(float(oldest_age))
            self._refreshed_at = time.monotonic()
