"""A PostgreSQL connection pool per process, prepared statements, and timed queries.

The pool opens connections lazily, keeps them for the next requests, and is
re-created in a forked child, so each gunicorn worker gets its own connections
after fork. A broken connection is discarded instead of going back to the
pool, and one the server has closed while it sat idle is never handed out, so
the service recovers on its own when the database returns.

Every statement is a Statement, prepared by each connection on its first use
and then executed by name: PostgreSQL parses and plans it once per connection
instead of once per request, which on a small machine is a large part of its
work.
"""

import os
import re
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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
}
SERVER_SETTINGS = {
    "statement_timeout": "5000",
    "idle_in_transaction_session_timeout": "30000",
    "timezone": "UTC",
}
CHECKOUT_TIMEOUT_SECONDS = 5
PARAMETER = re.compile(r"\$(\d+)")


class DatabaseUnavailable(Exception):
    """No connection could be had in time."""


# What "the database is unreachable" looks like to a caller: answered with 503.
UNAVAILABLE_ERRORS = (DatabaseUnavailable, psycopg2.OperationalError, psycopg2.InterfaceError)


@dataclass(frozen=True)
class Statement:
    """One SQL statement, with $1, $2, ... parameters, known by its operation
    name: the name it is prepared under and the label of its duration in
    db_query_duration_seconds, whose series exists from the start (DESIGN §6)."""

    operation: str
    sql: str
    prepare_sql: str = field(init=False, repr=False)
    execute_sql: str = field(init=False, repr=False)  # with psycopg2's %s for each parameter

    def __post_init__(self):
        parameters = max((int(n) for n in PARAMETER.findall(self.sql)), default=0)
        arguments = f"({', '.join(['%s'] * parameters)})" if parameters else ""
        object.__setattr__(self, "prepare_sql", f"PREPARE {self.operation} AS {self.sql}")
        object.__setattr__(self, "execute_sql", f"EXECUTE {self.operation}{arguments}")
        DB_QUERY_DURATION.labels(self.operation)


class PreparingConnection(psycopg2.extensions.connection):
    """A connection that knows which statements it has prepared. A PREPARE
    lasts as long as the session, whatever becomes of the transaction it ran in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepared: set[str] = set()


class Database:
    def __init__(
        self,
        dsn: str,
        *,
        max_connections: int,
        application_name: str,
        autocommit: bool = False,
        server_settings: dict[str, str] | None = None,
    ):
        """autocommit: each statement is its own transaction, unless inside
        transaction(). server_settings: PostgreSQL settings for this pool's
        sessions, over SERVER_SETTINGS."""
        self._dsn = dsn
        self._max_connections = max_connections
        self._application_name = application_name
        self._autocommit = autocommit
        settings = {**SERVER_SETTINGS, **(server_settings or {})}
        self._options = " ".join(f"-c {name}={value}" for name, value in settings.items())
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
                    options=self._options,
                    connection_factory=PreparingConnection,
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
                    break
                pool.putconn(connection, close=True)
            if connection.autocommit != self._autocommit:
                connection.autocommit = self._autocommit
            return connection
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

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.connection]:
        """A connection in one transaction, committed at the end of the block and
        rolled back if the block raises, whatever the pool's autocommit mode."""
        with self.connection() as connection:
            connection.autocommit = False
            yield connection
            commit(connection)

    def ping(self) -> None:
        with self.connection() as connection, connection.cursor() as cursor:
            execute(cursor, PING)
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


def execute(cursor, statement: Statement, params: tuple = ()) -> None:
    """Runs a statement, preparing it first if this connection has not yet."""
    prepared = cursor.connection.prepared
    if statement.operation not in prepared:
        cursor.execute(statement.prepare_sql)
        prepared.add(statement.operation)
    with timed(statement.operation):
        cursor.execute(statement.execute_sql, params or None)


def commit(connection) -> None:
    with timed("commit"):
        connection.commit()


PING = Statement("ping", "SELECT 1")
# Like each Statement's, the commit's series exists from the start (DESIGN §6).
DB_QUERY_DURATION.labels("commit")
