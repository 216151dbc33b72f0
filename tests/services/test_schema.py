"""database/schema.sql: idempotent, and each service's role reaches only its own tables
(DESIGN §4)."""

import psycopg2
import pytest

from tests.support.database import SCHEMA, create_database, drop_database

CATALOG = """
    SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text,
           coalesce(pg_get_indexdef(c.oid), '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' ORDER BY c.relname
"""


@pytest.fixture
def second_database():
    database = create_database("itemsdb_schema_test")
    yield database
    drop_database(database)


def test_applying_the_schema_again_changes_nothing(database, second_database):
    before = second_database.query(CATALOG)

    second_database.apply_schema()
    second_database.apply_schema()

    assert second_database.query(CATALOG) == before
    assert second_database.query(CATALOG) == database.query(CATALOG), (
        "same result in another database"
    )


def test_schema_is_plain_sql_without_psql_meta_commands():
    lines = SCHEMA.read_text().splitlines()

    assert not [line for line in lines if line.lstrip().startswith("\\")]


def test_audit_logs_has_the_columns_and_indexes_the_design_names(database):
    columns = {
        row[0]
        for row in database.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_logs'"
        )
    }
    indexes = {
        row[0]
        for row in database.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'audit_logs'")
    }

    assert {
        "id",
        "event_id",
        "service",
        "action",
        "resource_type",
        "resource_id",
        "status_code",
        "request_id",
        "client_ip",
        "details",
        "occurred_at",
        "created_at",
    } <= columns
    assert any("UNIQUE" in i and "(event_id)" in i for i in indexes)
    assert any("(created_at DESC)" in i for i in indexes)
    assert database.query("SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;") == []


def as_role(database, role: str, sql: str):
    connection = psycopg2.connect(database.url(role))
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
        connection.commit()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "role, sql",
    [
        ("items_service", "INSERT INTO items (name) VALUES ('x')"),
        ("items_service", "SELECT * FROM items"),
        ("items_service", "UPDATE items SET name = 'y'"),
        ("items_service", "DELETE FROM items"),
        (
            "items_service",
            "INSERT INTO audit_outbox (event_id, payload) VALUES (gen_random_uuid(), '{}')",
        ),
        ("items_service", "DELETE FROM audit_outbox"),
        (
            "audit_service",
            "INSERT INTO audit_logs (event_id, service, action, resource_type,"
            " status_code, request_id, occurred_at)"
            " VALUES (gen_random_uuid(), 's', 'a.b', 'item', 200, 'r', now())",
        ),
        ("audit_service", "SELECT * FROM audit_logs"),
    ],
)
def test_each_role_can_do_its_own_work(database, role, sql):
    as_role(database, role, sql)


@pytest.mark.parametrize(
    "role, sql",
    [
        ("items_service", "SELECT * FROM audit_logs"),
        (
            "items_service",
            "INSERT INTO audit_logs (event_id, service, action, resource_type,"
            " status_code, request_id, occurred_at)"
            " VALUES (gen_random_uuid(), 's', 'a.b', 'item', 200, 'r', now())",
        ),
        ("items_service", "CREATE TABLE intruder (id int)"),
        ("audit_service", "SELECT * FROM items"),
        ("audit_service", "SELECT * FROM audit_outbox"),
        ("audit_service", "UPDATE audit_logs SET action = 'x'"),
        ("audit_service", "DELETE FROM audit_logs"),
        ("audit_service", "CREATE TABLE intruder (id int)"),
    ],
)
def test_each_role_is_refused_everything_else(database, role, sql):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(database, role, sql)
