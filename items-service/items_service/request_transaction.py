"""The one database transaction of a request under /items.

Views write through cursor(); the audit recorder adds the request's audit
event to the same transaction and commits it (audit_recorder.py), so an item
change and its audit event are stored together or not at all. Counters that
describe committed changes are registered with on_commit().
"""

from collections.abc import Callable

from flask import Flask, current_app, g

from service_common.database import commit as commit_connection


def _connection():
    if "db_connection" not in g:
        g.db_connection = current_app.extensions["database"].acquire()
        g.db_after_commit = []
    return g.db_connection


def cursor():
    return _connection().cursor()


def on_commit(callback: Callable[[], None]) -> None:
    _connection()
    g.db_after_commit.append(callback)


def commit() -> None:
    commit_connection(_connection())
    for callback in g.pop("db_after_commit"):
        callback()
    g.db_after_commit = []


def release(_error=None) -> None:
    """Teardown: an uncommitted transaction is rolled back by the pool."""
    connection = g.pop("db_connection", None)
    if connection is not None:
        current_app.extensions["database"].release(connection)


def init_app(app: Flask) -> None:
    """Every request's connection goes back to the pool when the request ends,
    however it ends."""
    app.teardown_request(release)
