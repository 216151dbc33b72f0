"""How full the database's volume is (DESIGN §6), for the alert that fires
before it fills (monitoring/rules/storage.yml). The stack's own Prometheus
scrapes only the services' pods, never the kubelet's volume statistics, so
audit-service, which stores what grows, reports the database's size, and the
volume's size when the deployment tells it (DATABASE_VOLUME_BYTES).

The size is read when /metrics is scraped, at most every
REFRESH_INTERVAL_SECONDS per worker: pg_database_size walks the database's
files, cheap but not free."""

import logging
import threading
import time

import psycopg2
from flask import Flask, request

from audit_service.metrics import DATABASE_SIZE, DATABASE_VOLUME_SIZE
from service_common.database import Database, DatabaseUnavailable

REFRESH_INTERVAL_SECONDS = 15.0
log = logging.getLogger(__name__)


class DatabaseSize:
    def __init__(self, database: Database, volume_bytes: int | None):
        self._database = database
        self._lock = threading.Lock()
        self._refreshed_at = float("-inf")
        if volume_bytes:
            DATABASE_VOLUME_SIZE.set(volume_bytes)

    def refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._refreshed_at < REFRESH_INTERVAL_SECONDS:
                return
            try:
                with self._database.connection() as connection, connection.cursor() as cursor:
                    cursor.execute("SELECT pg_database_size(current_database())")
                    DATABASE_SIZE.set(cursor.fetchone()[0])
                    connection.rollback()
            except (DatabaseUnavailable, psycopg2.Error) as error:
                # Readiness and PostgresUnreachable report the outage itself.
                log.warning("database size not read: %s", str(error).strip())
                return
            self._refreshed_at = time.monotonic()


def register_database_size(app: Flask, size: DatabaseSize, metrics_path: str = "/metrics") -> None:
    @app.before_request
    def refresh_database_size_before_a_scrape():
        if request.path == metrics_path:
            size.refresh()
