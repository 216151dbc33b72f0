"""Throwaway PostgreSQL databases, migrated as the deployment migrates its own
(database/migrate.sh: schema.sql and the migrations after it)."""

import os
import subprocess
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

# PGPORT: the server's port when it is not the default (the container `make test` runs
# in elsewhere starts its own server on a free port: scripts/test-in-container).
SERVER = {"host": "127.0.0.1", "port": int(os.environ.get("PGPORT", "5432")), "user": "postgres"}
SCHEMA = Path(__file__).resolve().parents[2] / "database" / "schema.sql"
MIGRATE = SCHEMA.with_name("migrate.sh")


@dataclass(frozen=True)
class TestDatabase:
    name: str
    host: str = SERVER["host"]
    port: int = SERVER["port"]

    def url(self, role: str = "postgres", host: str | None = None, port: int | None = None) -> str:
        """No password: the test server trusts loopback (scripts/setup/10-postgres.sh),
        and the login roles are the server's, shared by every database on it, so
        the tests leave their passwords as they are."""
        return f"postgresql://{role}@{host or self.host}:{port or self.port}/{self.name}"

    def connect(self):
        """A superuser connection in autocommit mode, for assertions."""
        connection = psycopg2.connect(dbname=self.name, **SERVER)
        connection.autocommit = True
        return connection

    def query(self, sql: str, params=None) -> list[tuple]:
        with closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def count(self, table: str) -> int:
        return self.query(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))[0][0]

    def apply_schema(self) -> None:
        """database/schema.sql alone, as any client would apply it."""
        with closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(SCHEMA.read_text())

    def migrate(self) -> None:
        subprocess.run(
            ["sh", str(MIGRATE)],
            env={
                "PATH": os.environ["PATH"],
                "PGHOST": self.host,
                "PGPORT": str(self.port),
                "PGUSER": SERVER["user"],
                "PGDATABASE": self.name,
            },
            check=True,
            capture_output=True,
            timeout=60,
        )


def _server_connection():
    connection = psycopg2.connect(dbname="postgres", **SERVER)
    connection.autocommit = True
    return connection


def create_database(prefix: str = "itemsdb_test") -> TestDatabase:
    database = TestDatabase(name=f"{prefix}_{uuid.uuid4().hex[:12]}")
    with closing(_server_connection()) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database.name}"')
    database.migrate()
    return database


def drop_database(database: TestDatabase) -> None:
    with closing(_server_connection()) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
