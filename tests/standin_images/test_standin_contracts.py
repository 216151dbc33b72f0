"""Each stand-in image (e2e/pods/images) runs the rendered manifests' containers unchanged:
their command, args, environment, volumes, user and read-only root, as a kubelet would
start them (tests/standin_images/docker_pods.py), and passes their probes. What the
real-node tier then relies on, checked here in about a minute without a cluster."""

import base64
import json

import pytest

from infra import schema_job
from tests.containers.docker_cli import docker
from tests.support.repository_files import REPOSITORY

# database/schema.sql is migration 0001, NNNN_*.sql the later ones (database/migrate.sh).
MIGRATIONS = ["0001"] + sorted(p.name[:4] for p in (REPOSITORY / "database").glob("[0-9]*_*.sql"))


@pytest.fixture(scope="module")
def schema_applied(pods, postgres):
    return pods.run("postgres-schema", "apply-schema", detach=False)


@pytest.fixture(scope="module")
def running(pods, postgres, schema_applied):
    """Every long-running stand-in container, started and ready."""
    containers = {
        "postgres": postgres,
        "items-proxy": pods.run("items-service", "items-service-proxy"),
        "prometheus": pods.run("prometheus", "prometheus"),
        "grafana": pods.run("grafana", "grafana"),
    }
    for container in containers.values():
        container.wait_until("readinessProbe")
    return containers


def superuser_sql(postgres, sql: str) -> str:
    """psql in the postgres container over its unix socket, as `kubectl exec` would run it."""
    result = postgres.exec("psql", "--no-psqlrc", "-U", "postgres", "-d", "itemsdb", "-Atc", sql)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_postgres_initialises_its_empty_volume_with_the_password_file_and_passes_its_probes(
    postgres,
):
    assert "PostgreSQL init process complete; ready for start up." in postgres.logs()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert postgres.probe(probe), probe
    assert superuser_sql(postgres, "SHOW max_connections") == next(
        arg.split("=", 1)[1] for arg in postgres.spec["args"] if arg.startswith("max_connections=")
    )


def test_the_schema_job_applies_every_migration_and_sets_the_service_roles_passwords(
    pods, manifests, postgres, schema_applied
):
    assert schema_applied.exit_code() == 0, schema_applied.logs()
    assert "schema up to date; role passwords set" in schema_applied.logs()
    applied = superuser_sql(postgres, "SELECT version FROM schema_migrations ORDER BY 1")
    assert applied.split() == MIGRATIONS
    # Over the network, where pg_hba.conf asks for a password (scram-sha-256).
    password = manifests.secret_value(schema_job.ROLES_SECRET, "items-password")
    for candidate, works in ((password, True), ("not-the-password", False)):
        login = postgres.exec(
            "psql",
            "--no-psqlrc",
            f"postgresql://{schema_job.ITEMS_ROLE}:{candidate}@{postgres.address()}/itemsdb",
            "-Atc",
            "SELECT current_user",
        )
        assert (login.returncode == 0) is works, login.stderr


def test_the_retention_cronjob_runs_its_deletion_as_audit_retention(pods, schema_applied):
    run = pods.run("audit-retention", "delete-expired", detach=False)
    assert run.exit_code() == 0, run.logs()
    assert "audit retention: deleted 0 audit_logs rows" in run.logs()


def test_the_items_proxy_runs_the_programs_nginx_conf_and_answers_503_without_gunicorn(
    running,
):
    proxy = running["items-proxy"]
    assert proxy.get("/healthz", "proxy-health") == (200, b'{"status": "ok"}')
    status, body = proxy.get("/items", "http")
    assert status == 503
    assert json.loads(body)["title"] == "Service Unavailable"


def test_prometheus_loads_the_programs_config_and_every_rule_group(running):
    prometheus = running["prometheus"]
    status, body = prometheus.get("/api/v1/rules", "http")
    assert status == 200
    groups = {group["name"] for group in json.loads(body)["data"]["groups"]}
    assert len(groups) >= 5
    status, body = prometheus.get("/api/v1/status/config", "http")
    assert "kubernetes-pods" in json.loads(body)["data"]["yaml"]


def test_the_grafana_stand_in_passes_its_probes_and_serves_the_dashboard_to_the_admin_only(
    running, manifests
):
    grafana = running["grafana"]
    assert grafana.probe("startupProbe") and grafana.probe("livenessProbe")
    password = manifests.secret_value("grafana-admin", "admin-password")
    dashboard = json.loads((REPOSITORY / "monitoring/dashboards/items-audit.json").read_text())

    def search(secret: str) -> tuple[int, bytes]:
        token = base64.b64encode(f"admin:{secret}".encode()).decode()
        return grafana.get("/api/search", "http", {"Authorization": f"Basic {token}"})

    status, body = search(password)
    assert status == 200
    assert [entry["uid"] for entry in json.loads(body)] == [dashboard["uid"]]
    assert search("not-the-password")[0] == 401


def test_every_stand_in_container_runs_unprivileged_on_a_read_only_root(running):
    for name, container in running.items():
        lines = container.exec("cat", "/proc/1/status").stdout.splitlines()
        status = dict(line.split(":", 1) for line in lines)
        assert status["Uid"].split()[0] != "0", name
        assert status["NoNewPrivs"].strip() == "1", name
        assert status["Seccomp"].strip() == "2", name
        assert int(status["CapEff"].strip(), 16) == 0, name
        write = container.exec("touch", "/written-by-the-test")
        assert write.returncode != 0 and "Read-only file system" in write.stderr, name


def test_postgres_stops_fast_on_its_stop_signal_and_keeps_its_database(running):
    postgres = running["postgres"]
    before = postgres.logs()
    docker("stop", "--time", "60", postgres.name, timeout=90)
    assert postgres.exit_code() == 0
    # (The initialisation's own server was stopped fast too: only what came after counts.)
    assert "received fast shutdown request" in postgres.logs()[len(before) :]
    docker("start", postgres.name)
    postgres.wait_until("readinessProbe")
    assert "Skipping initialization" in postgres.logs()
    assert superuser_sql(postgres, "SELECT count(*) FROM schema_migrations") == str(len(MIGRATIONS))
