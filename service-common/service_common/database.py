"""A PostgreSQL connection pool per process, and timed queries.

The pool opens connections lazily, keeps them for the next requests, and is
re-created in a forked child, so each gunicorn worker gets its own connections
after fork. A broken connection is discarded instead of going back to the
pool, and one the server has closed while it sat idle is never handed out, so
the service recovers on its own when the database returns.
"""

import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extensions
import psycopg2.pool

from service_common.metrics import DB_QUERY_DURATION

# Bounded waits everywhere: a client gets a 503 within seconds, never a hang.
CONNECT_OPTIONS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    "options": "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=30000"
    " -c timezone=UTC",
}
CHECKOUT_TIMEOUT_SECONDS = 5


class DatabaseUnavailable(Exception):
    """No connection could be had in time."""


# What "the database is unreachable" looks like to a caller: answered with 503.
UNAVAILABLE_ERRORS = (DatabaseUnavailable, psycopg2.OperationalError, psycopg2.InterfaceError)


class Database:
    def __init__(self, dsn: str, *, max_connections: int, application_name: str):
        self._dsn = dsn
        self._max_connections = max_connections
        self._application_name = application_name
        self._lock = threading.Lock()
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._slots: threading.BoundedSemaphore | None = None
        self._pid: int | None = None

    def _current_pool(self) -> tuple[psycopg2.pool.ThreadedConnectionPool, threading.Semaphore]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = psycopg2.pool.ThreadedConnectionPool(
                    0,
                    self._max_connections,
                    self._dsn,
                    application_name=self._application_name,
                    **CONNECT_OPTIONS,
                )
                # psycopg2 closes a returned connection unless fewer than `minconn`
                # are idle: with 0, every request would pay a new connection (TCP
                # and SCRAM handshakes, most of its time). Keep them all; they are
                # still opened only when needed (0 above).
                self._pool.minconn = self._max_connections
                self._slots = threading.BoundedSemaphore(self._max_connections)
                self._pid = os.getpid()
            return self._pool, self._slots

    def acquire(self) -> psycopg2.extensions.connection:
        pool, slots = self._current_pool()
        # psycopg2's pool fails at once when exhausted; waiting briefly for a
        # slot turns a burst into queueing instead of errors.
        if not slots.acquire(timeout=CHECKOUT_TIMEOUT_SECONDS):
            raise DatabaseUnavailable("no database connection free within the timeout")
        try:
            while True:
                connection = pool.getconn()
                if not _closed_by_server(connection):
                    return connection
                pool.putconn(connection, close=True)
        except BaseException:
            slots.release()
            raise

    def release(self, connection: psycopg2.extensions.connection) -> None:
        """Return a connection, rolling back anything left open; discard it if broken."""
        pool, slots = self._current_pool()
        broken = bool(connection.closed)
        if not broken and connection.status != psycopg2.extensions.STATUS_READY:
            try:
                connection.rollback()
            except psycopg2.Error:
                broken = True
        try:
            pool.putconn(connection, close=broken)
        finally:
            slots.release()

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        connection = self.acquire()
        try:
            yield connection
        finally:
            self.release(connection)

    def ping(self) -> None:
        with self.connection() as connection, connection.cursor() as cursor:
            execute(cursor, "ping", "SELECT 1")
            connection.rollback()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.closeall()
            self._pool = None


def _closed_by_server(connection: psycopg2.extensions.connection) -> bool:
    """Whether an idle pooled connection is dead. The server sends nothing to an
    idle client, so anything readable is its goodbye or EOF (a restart, an
    outage, an idle timeout): checked without blocking, it costs no round trip."""
    if connection.closed:
        return True
    poller = select.poll()
    poller.register(connection, select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def timed(operation: str) -> Iterator[None]:
    """Record the duration of the database work inside under `operation`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        DB_QUERY_DURATION.labels(operation).observe(time.perf_counter() - started)


def execute(cursor, operation: str, sql: str, params=None) -> None:
    with timed(operation):
        cursor.execute(sql, params)


def commit(connection) -> None:
    with timed("commit"):
        connection.commit()
