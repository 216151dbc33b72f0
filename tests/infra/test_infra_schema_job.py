"""The schema Job: migrates the database with database/migrate.sh and sets the
roles' passwords without exposing them. Its name follows everything it applies
and the database it applies it to, a failed one is replaced by the next update,
and the services wait for it."""

import dataclasses
import re

from infra import mock_runtime, schema_job
from infra.program import Sources
from tests.infra.k8s_objects import find, pod_templates


def _job(objects) -> dict:
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert len(jobs) == 1
    return jobs[0]


def _job_name(run) -> str:
    return _job(run.kubernetes_objects())["metadata"]["name"]


def test_the_job_is_named_by_what_it_applies_and_where(run, objects):
    roles = find(objects, "Secret", "database-roles")["stringData"]
    statefulset = run.by_type("kubernetes:apps/v1:StatefulSet")[0]
    uid = mock_runtime.resource_uid(statefulset.type, statefulset.name)
    files = find(objects, "ConfigMap", _job_name(run))["data"]
    assert _job_name(run) == schema_job.job_name(files, roles, uid)
    assert re.fullmatch(r"postgres-schema-[0-9a-f]{10}", _job_name(run))


def test_a_new_migration_a_new_password_or_a_new_database_each_make_a_new_job():
    files = schema_job.scripts(Sources.from_repo().migrations)
    roles = {"items-password": "a" * 32, "audit-password": "b" * 32}
    name = schema_job.job_name(files, roles, "uid-1")
    assert schema_job.job_name(dict(files), dict(roles), "uid-1") == name
    assert (
        schema_job.job_name({**files, "0099_colour.sql": "ALTER TABLE items"}, roles, "uid-1")
        != name
    )
    assert schema_job.job_name(files, {**roles, "items-password": "c" * 32}, "uid-1") != name
    assert schema_job.job_name(files, roles, "uid-2") != name


def test_a_new_migration_file_reaches_the_job(run, dev_config):
    original = Sources.from_repo()
    migration = "ALTER TABLE items ADD COLUMN IF NOT EXISTS colour text;\n"
    changed = dataclasses.replace(
        original, migrations={**original.migrations, "0099_colour.sql": migration}
    )
    changed_run = mock_runtime.run(dev_config, sources=changed)
    assert _job_name(changed_run) != _job_name(run)
    files = find(changed_run.kubernetes_objects(), "ConfigMap", _job_name(changed_run))["data"]
    assert files["0099_colour.sql"] == migration


def test_the_job_applies_the_repository_migrations_then_the_passwords(objects):
    job = _job(objects)
    files = find(objects, "ConfigMap", job["metadata"]["name"])["data"]
    assert {name: text for name, text in files.items() if name.endswith((".sql", ".sh"))} == {
        **Sources.from_repo().migrations,
        "apply.sh": schema_job.APPLY_SCRIPT,
        "is-superuser.sql": schema_job.IS_SUPERUSER_SQL,
        "set-passwords.sql": schema_job.SET_PASSWORDS_SQL,
    }
    script = files["apply.sh"]
    assert script.index("pg_isready") < script.index("migrate.sh") < script.index("set-passwords")
    assert find(objects, "ConfigMap", job["metadata"]["name"])["immutable"] is True


def test_role_passwords_come_from_mounted_files_never_a_command_line_or_the_environment(objects):
    job = _job(objects)
    data = find(objects, "ConfigMap", job["metadata"]["name"])["data"]
    sql = data["set-passwords.sql"]
    assert "ALTER ROLE items_service WITH LOGIN PASSWORD :'items_password';" in sql
    assert "ALTER ROLE audit_service WITH LOGIN PASSWORD :'audit_password';" in sql
    assert "\\set items_password `cat /run/secrets/roles/items-password`" in sql
    roles = find(objects, "Secret", "database-roles")["stringData"]
    admin = find(objects, "Secret", "postgres-admin")["stringData"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    visible = (
        " ".join(container["command"])
        + " ".join(e["value"] for e in container["env"])
        + data["apply.sh"]
        + sql
    )
    for secret in (*roles.values(), admin["password"]):
        assert secret not in visible
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PGSERVICEFILE"] == "/run/secrets/postgres/pg_service.conf"
    service_file = admin["pg_service.conf"]
    assert service_file.startswith(f"[{env['PGSERVICE']}]\n")
    assert f"password={admin['password']}\n" in service_file
    assert (
        "host=postgres\n" in service_file
        and "user=postgres\n" in service_file
        and "dbname=itemsdb\n" in service_file
    )


def test_the_job_runs_after_the_database_and_the_deployments_after_the_job(run):
    job = run.by_type("kubernetes:batch/v1:Job")[0]
    statefulset = run.by_type("kubernetes:apps/v1:StatefulSet")[0]
    assert statefulset.urn in job.dependencies
    deployments = {r.name: r for r in run.by_type("kubernetes:apps/v1:Deployment")}
    for service in ("items-service", "audit-service"):
        assert job.urn in deployments[service].dependencies, service


def test_a_failed_job_is_replaced_by_the_next_update_rather_than_failing_it_again(objects):
    assert _job(objects)["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


def test_pulumi_waits_for_the_job_as_long_as_the_job_may_run(run, objects):
    def minutes(timeout: str) -> int:
        return int(timeout.removesuffix("m"))

    deadline = _job(objects)["spec"]["activeDeadlineSeconds"]
    timeouts = run.by_type("kubernetes:batch/v1:Job")[0].custom_timeouts
    assert minutes(timeouts["create"]) * 60 > deadline
    assert minutes(timeouts["update"]) * 60 > deadline


def test_nothing_tells_pulumi_to_skip_waiting_so_the_ordering_holds(objects):
    """The Deployments start after the Job has completed only because Pulumi waits
    for each to be ready; `pulumi.com/skipAwait` would make it move on at once."""
    for manifest in objects:
        annotations = manifest["metadata"].get("annotations") or {}
        assert "pulumi.com/skipAwait" not in annotations, manifest["metadata"]["name"]
        assert "pulumi.com/timeoutSeconds" not in annotations, manifest["metadata"]["name"]


def test_the_job_pod_never_restarts_in_place_and_gives_up_eventually(objects):
    spec = _job(objects)["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["backoffLimit"] >= 1 and spec["activeDeadlineSeconds"] > 0
    assert any(w.startswith("Job/") for w in pod_templates(objects))


def test_an_external_database_leaves_no_superuser_secret_in_the_cluster():
    """The Job runs as the migration role database_url names, and refuses a
    superuser (tests/infra/test_infra_schema_job_script.py runs that refusal)."""
    run = mock_runtime.run(
        {
            "items-audit:database_url": "postgresql://migrator:pw@db.example.com/shop"
            "?sslmode=verify-full",
            "items-audit:database_cidrs": "10.0.12.0/24",
        },
        secret_keys=("items-audit:database_url",),
    )
    objects = run.kubernetes_objects()
    secrets = {o["metadata"]["name"]: o["stringData"] for o in objects if o["kind"] == "Secret"}
    assert "postgres-admin" not in secrets
    assert not run.by_type("kubernetes:apps/v1:StatefulSet")
    assert "postgres-superuser-password" not in {
        r.name for r in run.by_type("random:index/randomPassword:RandomPassword")
    }
    # The only database credentials besides the services' and the retention
    # CronJob's own roles: the migration role's.
    assert set(secrets) == {
        "schema-migrator",
        "database-roles",
        "items-service",
        "audit-service",
        "audit-retention-db",
        "grafana-admin",
    }
    assert "user=migrator\n" in secrets["schema-migrator"]["pg_service.conf"]
    job = _job(objects)
    spec = job["spec"]["template"]["spec"]
    mounted = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert mounted == {"schema-migrator", "database-roles"}
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    assert env["REFUSE_SUPERUSER"] == "true"
    # The Secret had the superuser's name before: the alias replaces it rather than
    # leaving it behind.
    (secret,) = [r for r in run.by_type("kubernetes:core/v1:Secret") if r.name == "schema-migrator"]
    assert secret.former_urns == {secret.urn.replace("::schema-migrator", "::postgres-admin")}
