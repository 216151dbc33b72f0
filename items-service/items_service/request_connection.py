"""The database connection of a request under /items.

The connection is in autocommit mode: each statement is its own transaction.
A request that changes or reads items runs one statement, which also writes
its audit event (store.py), so the two are stored together or not at all; the
audit recorder (audit_recorder.py) then writes no other event.
"""

from flask import Flask, current_app, g

from service_common.database import Statement, execute


def _connection():
    if "db_connection" not in g:
        g.db_connection = current_app.extensions["database"].acquire()
    return g.db_connection


def cursor():
    return _connection().cursor()


def execute_with_event(statement: Statement, params: tuple):
    """Runs the request's statement that writes its audit event along with its
    change; returns the cursor holding the statement's rows."""
    statement_cursor = cursor()
    execute(statement_cursor, statement, params)
    g.audit_event_written = True
    return statement_cursor


def event_written() -> bool:
    return g.get("audit_event_written", False)


def release(_error=None) -> None:
    """Teardown: the connection goes back to the pool."""
    connection = g.pop("db_connection", None)
    if connection is not None:
        current_app.extensions["database"].release(connection)


def init_app(app: Flask) -> None:
    """Every request's connection goes back to the pool when the request ends,
    however it ends."""
    app.teardown_request(release)
