"""The schema Job's script, run for real: psql against the test PostgreSQL
server (127.0.0.1:5432, trust auth), in a throwaway database, with the Job's
files laid out in a temporary directory instead of its mounts."""

import base64
import hashlib
import hmac
import os
import secrets
import subprocess

import psycopg2
import pytest
from k8s_objects import find


@pytest.fixture
def database():
    name = f"infra_schema_job_{secrets.token_hex(4)}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    yield name
    admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


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


def _lay_out_job_files(objects, tmp_path, database):
    job = next(o for o in objects if o["kind"] == "Job")
    data = find(objects, "ConfigMap", job["metadata"]["name"])["data"]
    roles = tmp_path / "roles"
    roles.mkdir()
    passwords = {
        "items-password": "items-" + secrets.token_hex(8),
        "audit-password": "audit-" + secrets.token_hex(8),
    }
    for key, value in passwords.items():
        (roles / key).write_text(value)
    for key, text in data.items():
        text = text.replace("/schema/", f"{tmp_path}/").replace("/run/secrets/roles/", f"{roles}/")
        (tmp_path / key).write_text(text)
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(
        f"[admin]\nhost=127.0.0.1\nport=5432\ndbname={database}\nuser=postgres\n"
    )
    env = {
        **os.environ,
        "PGSERVICEFILE": str(service_file),
        "PGSERVICE": "admin",
        "PGCONNECT_TIMEOUT": "5",
    }
    return env, passwords


def test_the_job_script_applies_the_schema_and_sets_both_role_passwords_twice_over(
    objects, tmp_path, database
):
    env, passwords = _lay_out_job_files(objects, tmp_path, database)
    for attempt in range(2):  # a rerun (a retried Job) succeeds too
        result = subprocess.run(
            ["sh", str(tmp_path / "apply.sh")], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (attempt, result.stdout, result.stderr)
        assert "schema applied; role passwords set" in result.stdout
        for password in passwords.values():
            assert password not in result.stdout + result.stderr
    with psycopg2.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=database
    ) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        assert [row[0] for row in cursor.fetchall()] == ["audit_logs", "audit_outbox", "items"]
        cursor.execute(
            "SELECT rolname, rolpassword FROM pg_authid"
            " WHERE rolname IN ('items_service', 'audit_service')"
        )
        verifiers = dict(cursor.fetchall())
        assert _scram_matches(verifiers["items_service"], passwords["items-password"])
        assert _scram_matches(verifiers["audit_service"], passwords["audit-password"])


def test_the_job_script_stops_on_the_first_sql_error(objects, tmp_path, database):
    env, _ = _lay_out_job_files(objects, tmp_path, database)
    (tmp_path / "schema.sql").write_text(
        "CREATE TABLE broken (;\nCREATE TABLE never_created (id int);\n"
    )
    result = subprocess.run(
        ["sh", str(tmp_path / "apply.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    with psycopg2.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname=database
    ) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT to_regclass('never_created')")
        assert cursor.fetchone() == (None,)
