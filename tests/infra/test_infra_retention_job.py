"""The audit trail's retention (DESIGN §4), run for real: the audit-retention
CronJob's script, as rendered, with psql against a migrated PostgreSQL database,
logged in as the role the CronJob uses."""

import subprocess
from contextlib import closing

import psycopg2
import pytest

from infra import mock_runtime
from infra.retention_job import BATCH_SIZE, SCRIPTS_DIR
from infra.schema_job import RETENTION_ROLE
from tests.infra.k8s_objects import containers, find, pod_templates
from tests.support.database import create_database, drop_database


@pytest.fixture(scope="module")
def database():
    database = create_database("retention_test")
    yield database
    drop_database(database)


def _cron_job(objects) -> dict:
    return find(objects, "CronJob", "audit-retention")


def _env(objects) -> dict[str, str]:
    (container,) = containers(pod_templates(objects)["CronJob/audit-retention"])
    return {variable["name"]: variable["value"] for variable in container["env"]}


def _store_events(database, count: int, days_ago: float) -> None:
    database.query(
        """
        INSERT INTO audit_logs (event_id, service, action, resource_type, status_code,
            request_id, occurred_at, created_at)
        SELECT gen_random_uuid(), 'items-service', 'item.list', 'item', 200, 'r',
            now() - %(days)s * interval '1 day', now() - %(days)s * interval '1 day'
        FROM generate_series(1, %(count)s)
        RETURNING 1
        """,
        {"days": days_ago, "count": count},
    )


def _run_job(objects, tmp_path, database, **env) -> subprocess.CompletedProcess:
    """The CronJob's container: its script and environment, its service file
    naming the role it logs in as (the test server trusts loopback: no password)."""
    scripts = find(objects, "ConfigMap", "audit-retention")["data"]
    for name, text in scripts.items():
        (tmp_path / name).write_text(text.replace(SCRIPTS_DIR, str(tmp_path)))
    service = _env(objects)["PGSERVICE"]
    (tmp_path / "pg_service.conf").write_text(
        f"[{service}]\nhost={database.host}\nport={database.port}\n"
        f"dbname={database.name}\nuser={RETENTION_ROLE}\n"
    )
    return subprocess.run(
        ["sh", str(tmp_path / "delete-expired.sh")],
        env={
            **_env(objects),
            "PATH": "/usr/bin:/bin",
            "PGSERVICEFILE": str(tmp_path / "pg_service.conf"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_job_runs_hourly_one_run_at_a_time_with_the_stacks_retention(objects):
    spec = _cron_job(objects)["spec"]
    assert spec["schedule"] == "17 * * * *"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert _env(objects)["AUDIT_RETENTION_DAYS"] == "7"


def test_the_retention_period_is_a_stack_setting_audit_service_knows_too():
    objects = mock_runtime.run({"items-audit:audit_retention_days": "90"}).kubernetes_objects()
    assert _env(objects)["AUDIT_RETENTION_DAYS"] == "90"
    audit = find(objects, "Deployment", "audit-service")["spec"]["template"]["spec"]
    audit_env = {
        variable["name"]: variable.get("value") for variable in audit["containers"][0]["env"]
    }
    assert audit_env["AUDIT_RETENTION_DAYS"] == "90"


def test_the_job_deletes_every_event_stored_longer_ago_than_the_period_and_nothing_younger(
    objects, tmp_path, database
):
    database.query("TRUNCATE audit_logs; SELECT 1")
    expired = BATCH_SIZE + 1200  # more than one batch
    _store_events(database, expired, days_ago=7.01)
    _store_events(database, 700, days_ago=6.99)
    _store_events(database, 300, days_ago=0)

    result = _run_job(objects, tmp_path, database)

    assert result.returncode == 0, result.stderr
    assert (
        f"audit retention: deleted {expired} audit_logs rows stored more than 7 days ago"
        in result.stdout
    )
    assert database.count("audit_logs") == 1000
    assert database.query(
        "SELECT count(*) FROM audit_logs WHERE created_at < now() - interval '7 days'"
    ) == [(0,)]
    again = _run_job(objects, tmp_path, database)
    assert "deleted 0 audit_logs rows" in again.stdout
    assert database.count("audit_logs") == 1000


def test_a_job_that_cannot_delete_fails_rather_than_reporting_success(objects, tmp_path, database):
    result = _run_job(objects, tmp_path, database, AUDIT_RETENTION_DAYS="0")

    assert result.returncode != 0
    assert "audit retention must be at least 1 day" in result.stderr
    assert "audit retention: deleted" not in result.stdout


def _as_retention_role(database, sql: str):
    with (
        closing(
            psycopg2.connect(
                host=database.host, port=database.port, user=RETENTION_ROLE, dbname=database.name
            )
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("SELECT count(*) FROM audit_logs", "permission denied for table audit_logs"),
        ("DELETE FROM audit_logs RETURNING 1", "permission denied for table audit_logs"),
        (
            "INSERT INTO audit_logs (event_id, service, action, resource_type, status_code,"
            " request_id, occurred_at) VALUES (gen_random_uuid(), 's', 'a', 't', 200, 'r', now())"
            " RETURNING 1",
            "permission denied for table audit_logs",
        ),
        ("SELECT count(*) FROM items", "permission denied for table items"),
        (
            "SELECT audit_logs_delete_expired(interval '23 hours', 10)",
            "audit retention must be at least 1 day",
        ),
    ],
)
def test_the_jobs_role_can_only_delete_events_older_than_a_day(database, statement, refusal):
    with pytest.raises(psycopg2.Error) as error:
        _as_retention_role(database, statement)
    assert refusal in str(error.value)


def test_with_the_job_running_the_trail_stops_growing_after_its_first_period(
    objects, tmp_path, database
):
    """Each cycle stores a period's events, then the job deletes them and the table
    is vacuumed (what autovacuum does at 1 % dead rows, migration 0002)."""
    database.query("TRUNCATE audit_logs; SELECT 1")
    sizes = []
    for _ in range(4):
        _store_events(database, 20_000, days_ago=8)
        sizes.append(
            database.query("SELECT pg_relation_size('audit_logs'), pg_indexes_size('audit_logs')")[
                0
            ]
        )
        assert _run_job(objects, tmp_path, database).returncode == 0
        with closing(database.connect()) as connection, connection.cursor() as cursor:
            cursor.execute("VACUUM audit_logs")

    print(f"\n(table, indexes) in bytes after each period of 20,000 events: {sizes}")
    # The table's space is reused at once; an index's emptied pages only from the
    # vacuum after next, so the indexes settle at about twice their first size
    # (how close to it depends on when the vacuums find the pages recyclable: a
    # loaded machine measured 2.1). Without retention they would be four times it.
    assert {table for table, _ in sizes} == {sizes[0][0]}
    assert sizes[-1][1] <= 2.5 * sizes[0][1]
    assert database.query("SELECT reloptions FROM pg_class WHERE oid = 'audit_logs'::regclass") == [
        (["autovacuum_vacuum_scale_factor=0.01", "autovacuum_vacuum_threshold=1000"],)
    ]
