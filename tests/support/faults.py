"""Database faults a test puts in a service's way: a table that refuses some
writes, a table another session holds locked."""

from collections.abc import Iterator
from contextlib import closing, contextmanager

from tests.support.database import TestDatabase


@contextmanager
def writes_refused(
    database: TestDatabase, table: str, operations: str, when: str = "true"
) -> Iterator[None]:
    """In the block, each of `operations` (e.g. "INSERT OR UPDATE") on `table`
    fails for every row where the SQL condition `when` holds (it may read NEW and
    the session's settings), as a broken disk or constraint would make it fail."""
    name = f"refuse_writes_to_{table}"
    database.query(
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {when} THEN
                RAISE EXCEPTION 'write refused for the test';
            END IF;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$;
        CREATE TRIGGER {name} BEFORE {operations} ON {table}
            FOR EACH ROW EXECUTE FUNCTION {name}();
        SELECT 1
        """  # noqa: S608 (the tests' own identifiers and condition)
    )
    try:
        yield
    finally:
        database.query(f"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}(); SELECT 1")


@contextmanager
def table_locked(database: TestDatabase, table: str, mode: str) -> Iterator:
    """Another session holding `table` in lock `mode`; the block gets that
    session, to release the lock early (rollback)."""
    with closing(database.connect()) as holder:
        holder.autocommit = False
        with holder.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN {mode} MODE")
        try:
            yield holder
        finally:
            holder.rollback()
