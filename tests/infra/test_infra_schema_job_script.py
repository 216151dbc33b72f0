"""The schema Job's scripts, run for real: psql against a PostgreSQL server of
the tests' own, with the Job's files (its ConfigMap, as rendered) laid out in a
temporary directory instead of its mounts."""

import base64
import hashlib
import hmac
import secrets
import subprocess
import threading
from contextlib import closing
from pathlib import Path

import pytest

from infra import mock_runtime
from infra.schema_job import SCRIPTS_DIR
from tests.infra.k8s_objects import find
from tests.support.postgres_server import PostgresServer


@pytest.fixture(scope="module")
def server():
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture
def database(server):
    name = f"schema_job_{secrets.token_hex(4)}"
    with closing(server.connect()) as admin:
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
    return name


def _query(server, database, sql, params=None) -> list[tuple]:
    with closing(server.connect(database)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _scram_matches(verifier: str, password: str) -> bool:
    """Checks a SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> verifier (RFC 5802)."""
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = keys.split(":")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (
        method == "SCRAM-SHA-256"
        and base64.b64encode(hashlib.sha256(client_key).digest()).decode() == stored_key
        and base64.b64encode(hmac.new(salted, b"Server Key", "sha256").digest()).decode()
        == server_key
    )


class JobFiles:
    """The Job's mounts in a directory: its ConfigMap's files, the roles' password
    files, and the libpq service file the admin Secret would hold (for `user`)."""

    def __init__(self, objects, directory: Path, server, database: str, user: str = "postgres"):
        job = next(o for o in objects if o["kind"] == "Job")
        self.env = {
            variable["name"]: variable["value"]
            for variable in job["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        self.directory = directory
        roles = directory / "roles"
        roles.mkdir()
        self.passwords = {
            "items-password": "items-" + secrets.token_hex(8),
            "audit-password": "audit-" + secrets.token_hex(8),
            "retention-password": "retention-" + secrets.token_hex(8),
        }
        for key, value in self.passwords.items():
            (roles / key).write_text(value)
        for name, text in find(objects, "ConfigMap", job["metadata"]["name"])["data"].items():
            if name in ("apply.sh", "set-passwords.sql", "is-superuser.sql"):
                text = text.replace(SCRIPTS_DIR, str(directory)).replace(
                    "/run/secrets/roles/", f"{roles}/"
                )
            (directory / name).write_text(text)
        (directory / "pg_service.conf").write_text(
            f"[admin]\nhost=127.0.0.1\nport={server.port}\ndbname={database}\nuser={user}\n"
        )

    def run(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["sh", str(self.directory / "apply.sh")],
            env={
                **self.env,
                "PATH": "/usr/bin:/bin",
                "PGSERVICEFILE": str(self.directory / "pg_service.conf"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )

    def add_migration(self, name: str, sql: str) -> None:
        (self.directory / name).write_text(sql)


@pytest.fixture
def job(objects, tmp_path, server, database) -> JobFiles:
    return JobFiles(objects, tmp_path, server, database)


def test_the_job_migrates_and_sets_both_role_passwords_and_a_rerun_changes_nothing(
    job, server, database
):
    first = job.run()
    assert first.returncode == 0, first.stderr
    assert "applied migration 0001 (schema.sql)" in first.stdout
    second = job.run()  # a retried Job, or the next one with nothing new
    assert second.returncode == 0, second.stderr
    assert "applied migration" not in second.stdout
    for result in (first, second):
        assert "schema up to date; role passwords set" in result.stdout
        for password in job.passwords.values():
            assert password not in result.stdout + result.stderr
    tables = _query(
        server, database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    assert [name for (name,) in tables] == [
        "audit_logs",
        "audit_outbox",
        "items",
        "schema_migrations",
    ]
    assert _query(server, database, "SELECT version, file FROM schema_migrations ORDER BY 1") == [
        ("0001", "schema.sql"),
        ("0002", "0002_audit_retention.sql"),
    ]
    verifiers = dict(
        _query(
            server,
            database,
            "SELECT rolname, rolpassword FROM pg_authid"
            " WHERE rolname IN ('items_service', 'audit_service', 'audit_retention')",
        )
    )
    assert _scram_matches(verifiers["items_service"], job.passwords["items-password"])
    assert _scram_matches(verifiers["audit_service"], job.passwords["audit-password"])
    assert _scram_matches(verifiers["audit_retention"], job.passwords["retention-password"])


def test_a_second_migration_changes_a_table_that_has_rows_once(job, server, database):
    assert job.run().returncode == 0
    _query(server, database, "INSERT INTO items (name) VALUES ('kept'), ('also kept')")
    job.add_migration("0099_colour.sql", "ALTER TABLE items ADD COLUMN colour text;\n")

    applied = job.run()
    again = job.run()

    assert applied.returncode == 0, applied.stderr
    assert "applied migration 0099 (0099_colour.sql)" in applied.stdout
    assert again.returncode == 0 and "applied migration" not in again.stdout
    assert _query(server, database, "SELECT name, colour FROM items ORDER BY id") == [
        ("kept", None),
        ("also kept", None),
    ]
    assert [
        v for (v,) in _query(server, database, "SELECT version FROM schema_migrations ORDER BY 1")
    ] == ["0001", "0002", "0099"]


def test_a_database_made_before_migrations_existed_is_taken_over_without_loss(
    job, server, database
):
    schema = (job.directory / "schema.sql").read_text()
    with closing(server.connect(database)) as connection, connection.cursor() as cursor:
        cursor.execute(schema)
        cursor.execute("INSERT INTO items (name) VALUES ('from the old Job')")

    result = job.run()

    assert result.returncode == 0, result.stderr
    assert _query(server, database, "SELECT name FROM items") == [("from the old Job",)]
    assert _query(server, database, "SELECT version FROM schema_migrations ORDER BY 1") == [
        ("0001",),
        ("0002",),
    ]


def test_a_failing_migration_leaves_nothing_of_itself_and_fails_the_job(job, server, database):
    assert job.run().returncode == 0
    job.add_migration(
        "0099_broken.sql", "CREATE TABLE half_done (id int);\nCREATE TABLE broken (;\n"
    )

    result = job.run()

    assert result.returncode != 0
    assert "syntax error" in result.stderr
    assert _query(server, database, "SELECT to_regclass('half_done')") == [(None,)]
    assert _query(server, database, "SELECT version FROM schema_migrations ORDER BY 1") == [
        ("0001",),
        ("0002",),
    ]


def test_a_migration_changed_after_it_was_applied_stops_the_job_naming_it(job):
    assert job.run().returncode == 0
    with open(job.directory / "schema.sql", "a") as schema:
        schema.write("\nCREATE INDEX IF NOT EXISTS items_name_idx ON items (name);\n")

    result = job.run()

    assert result.returncode != 0
    assert (
        "schema.sql (migration 0001) was changed after it was applied to this database;"
        " put the change in a new migration instead"
    ) in result.stderr


def test_two_jobs_at_once_apply_each_migration_once(job, server, database):
    job.add_migration("0099_colour.sql", "ALTER TABLE items ADD COLUMN colour text;\n")
    results = []
    runs = [threading.Thread(target=lambda: results.append(job.run())) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()

    assert [result.returncode for result in results] == [0, 0], [r.stderr for r in results]
    output = "".join(result.stdout for result in results)
    assert output.count("applied migration 0001") == 1
    assert output.count("applied migration 0002") == 1
    assert output.count("applied migration 0099") == 1
    assert _query(server, database, "SELECT count(*) FROM schema_migrations") == [(3,)]


@pytest.fixture(scope="module")
def external_objects() -> list[dict]:
    """The render of a stack whose database is external."""
    return mock_runtime.run(
        {
            "items-audit:database_url": "postgresql://migrator:pw@db.example.com/shop"
            "?sslmode=verify-full",
            "items-audit:database_cidrs": "10.0.12.0/24",
        },
        secret_keys=("items-audit:database_url",),
    ).kubernetes_objects()


def test_against_an_external_database_the_job_refuses_a_superuser_and_changes_nothing(
    external_objects, tmp_path, server, database
):
    job = JobFiles(external_objects, tmp_path, server, database, user="postgres")

    result = job.run()

    assert result.returncode != 0
    assert "database_url names a superuser, whose password would stay in the cluster" in (
        result.stderr
    )
    assert _query(server, database, "SELECT to_regclass('schema_migrations')") == [(None,)]


def test_against_an_external_database_a_migration_role_migrates_and_sets_the_passwords(
    external_objects, tmp_path, server
):
    """The role database_url names there: the database's owner, allowed to create
    roles, not a superuser."""
    name = f"schema_job_{secrets.token_hex(4)}"
    role = f"migrator_{secrets.token_hex(4)}"
    with closing(server.connect()) as admin, admin.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN CREATEROLE")
        cursor.execute(f'CREATE DATABASE "{name}" OWNER {role}')
    job = JobFiles(external_objects, tmp_path, server, name, user=role)

    result = job.run()

    assert result.returncode == 0, result.stderr
    assert "schema up to date; role passwords set" in result.stdout
    assert _query(server, name, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'") == [
        (role,)
    ]
    verifier = _query(
        server, name, "SELECT rolpassword FROM pg_authid WHERE rolname = 'items_service'"
    )[0][0]
    assert _scram_matches(verifier, job.passwords["items-password"])


def test_the_clusters_own_server_is_migrated_as_its_superuser(job):
    """The StatefulSet's superuser Secret exists anyway (the server starts with it)."""
    assert job.env["REFUSE_SUPERUSER"] == "false"
    assert job.run().returncode == 0
