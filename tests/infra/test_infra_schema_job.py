"""The schema Job: named by what it runs, applying schema.sql with psql and
setting the roles' passwords without exposing them; the services wait for it."""

import dataclasses
import re

from k8s_objects import find, pod_templates

from infra import mock_runtime
from infra.program import Sources


def _job(objects) -> dict:
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert len(jobs) == 1
    return jobs[0]


def test_the_job_name_carries_a_hash_that_changes_with_schema_sql(run, dev_config):
    name = _job(run.kubernetes_objects())["metadata"]["name"]
    assert re.fullmatch(r"postgres-schema-[0-9a-f]{10}", name)

    same = mock_runtime.run(dev_config)
    assert _job(same.kubernetes_objects())["metadata"]["name"] == name

    original = Sources.from_repo()
    changed_sources = dataclasses.replace(
        original,
        schema_sql=original.schema_sql
        + "\nCREATE INDEX IF NOT EXISTS items_name_idx ON items (name);\n",
    )
    changed = _job(mock_runtime.run(dev_config, sources=changed_sources).kubernetes_objects())
    assert changed["metadata"]["name"] != name
    schema_map = find(
        mock_runtime.run(dev_config, sources=changed_sources).kubernetes_objects(),
        "ConfigMap",
        changed["metadata"]["name"],
    )
    assert schema_map["data"]["schema.sql"] == changed_sources.schema_sql


def test_the_job_applies_the_repository_schema_with_psql_stopping_on_the_first_error(objects):
    job = _job(objects)
    data = find(objects, "ConfigMap", job["metadata"]["name"])["data"]
    assert data["schema.sql"] == Sources.from_repo().schema_sql
    script = data["apply.sh"]
    assert "pg_isready" in script.split("psql")[0], "waits for the database first"
    assert "--set=ON_ERROR_STOP=1 --single-transaction --file=/schema/schema.sql" in script
    assert "--file=/schema/set-passwords.sql" in script
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


def test_the_job_pod_never_restarts_in_place_and_gives_up_eventually(objects):
    spec = _job(objects)["spec"]
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["backoffLimit"] >= 1 and spec["activeDeadlineSeconds"] > 0
    assert any(w.startswith("Job/") for w in pod_templates(objects))
