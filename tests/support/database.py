"""Throwaway PostgreSQL databases, migrated as the deployment migrates its own
(database/migrate.sh: schema.sql and the migrations after it), on the tests' own
server: every tier reaches PostgreSQL through server() and the databases made here."""

import atexit
import functools
import os
import subprocess
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from psycopg2 import sql

from tests.support.postgres_server import PostgresServer

SCHEMA = Path(__file__).resolve().parents[2] / "database" / "schema.sql"
MIGRATE = SCHEMA.with_name("migrate.sh")


@functools.cache
def server() -> PostgresServer:
    """The tests' own PostgreSQL server, never the machine's: started on first use,
    stopped when this process exits."""
    started = PostgresServer()
    atexit.register(started.stop)
    return started


@dataclass(frozen=True)
class TestDatabase:
    name: str
    host: str
    port: int

    def url(self, role: str = "postgres", host: str | None = None, port: int | None = None) -> str:
        """No password: the tests' server trusts loopback, and the login roles are
        the server's, shared by every database on it, so the tests leave their
        passwords as they are."""
        return f"postgresql://{role}@{host or self.host}:{port or self.port}/{self.name}"

    def connect(self):
        """A superuser connection in autocommit mode, for assertions."""
        return server().connect(self.name)

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
                "PGUSER": server().user,
                "PGDATABASE": self.name,
            },
            check=True,
            capture_output=True,
            timeout=60,
        )


def create_database(prefix: str = "itemsdb_test") -> TestDatabase:
    own = server()
    database = TestDatabase(f"{prefix}_{uuid.uuid4().hex[:12]}", own.host, own.port)
    with closing(own.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database.name}"')
    database.migrate()
    return database


def drop_database(database: TestDatabase) -> None:
    with closing(server().connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
