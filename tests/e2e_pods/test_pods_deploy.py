"""`make up` from nothing on a node whose pods really run: every workload Ready by its
own probes (a kubelet ran them, no simulation), the schema Job's SQL run against the
cluster's PostgreSQL, and the assignment's flow through the URL `pulumi stack output
items_url` gives, each request audited exactly once."""

import time

import requests

from tests.e2e.stack import NAMESPACE, REPOSITORY

KUBERNETES_VERSION = "v1.36.1"
CONTAINERD_VERSION = "2.4.2"
# The roles' privileges on the tables, as database/schema.sql grants them; audit_retention
# has none on any table: it deletes only through its SECURITY DEFINER function
# (database/0002_audit_retention.sql).
TABLE_GRANTS = {
    ("audit_service", "audit_logs", "INSERT"),
    ("audit_service", "audit_logs", "SELECT"),
    ("items_service", "audit_outbox", "DELETE"),
    ("items_service", "audit_outbox", "INSERT"),
    ("items_service", "audit_outbox", "SELECT"),
    ("items_service", "audit_outbox", "UPDATE"),
    ("items_service", "items", "DELETE"),
    ("items_service", "items", "INSERT"),
    ("items_service", "items", "SELECT"),
    ("items_service", "items", "UPDATE"),
}
ROLES = ("audit_retention", "audit_service", "items_service")


def migrations() -> list[str]:
    """The versions database/migrate.sh records: schema.sql is 0001, then NNNN_*.sql."""
    versions = ["0001"]
    for path in sorted((REPOSITORY / "database").glob("[0-9][0-9][0-9][0-9]_*.sql")):
        versions.append(path.name.split("_", 1)[0])
    return versions


def test_every_workload_is_ready_by_its_own_probes_on_a_real_kubelet(stack, first_up):
    node = stack.kubectl_json("get", "nodes")["items"]
    assert len(node) == 1
    info = node[0]["status"]["nodeInfo"]
    assert info["kubeletVersion"] == KUBERNETES_VERSION
    assert info["containerRuntimeVersion"] == f"containerd://{CONTAINERD_VERSION}"
    for kind in ("deployments", "statefulsets"):
        for workload in stack.kubectl_json("get", kind, "--namespace", NAMESPACE)["items"]:
            name = f"{kind}/{workload['metadata']['name']}"
            wanted = workload["spec"]["replicas"]
            assert workload["status"].get("readyReplicas") == wanted, name
            containers = workload["spec"]["template"]["spec"]["containers"]
            assert all(c.get("readinessProbe") for c in containers), f"{name}: no readiness probe"
    for pod in stack.kubectl_json("get", "pods", "--namespace", NAMESPACE)["items"]:
        if pod["status"]["phase"] == "Succeeded":
            continue
        for status in pod["status"]["containerStatuses"]:
            # Started by the runtime, Ready once its probe passed, with a real container ID.
            assert status["ready"] and status["started"], (pod["metadata"]["name"], status)
            assert status["containerID"].startswith("containerd://"), status


def test_the_schema_job_runs_every_migration_and_makes_the_least_privilege_roles(
    stack, first_up, node
):
    jobs = stack.kubectl_json(
        "get", "jobs", "--namespace", NAMESPACE, "-l", "app.kubernetes.io/name=postgres-schema"
    )["items"]
    assert [job["status"].get("succeeded") for job in jobs] == [1]
    applied = [row[0] for row in node.psql("SELECT version FROM schema_migrations ORDER BY 1")]
    assert applied == migrations()
    roles = node.psql(
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles"
        " WHERE rolname = ANY (string_to_array(:'roles', ',')) ORDER BY 1",
        roles=",".join(ROLES),
    )
    assert roles == [[role, "f", "f", "f", "t"] for role in ROLES]
    grants = node.psql(
        "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = ANY (string_to_array(:'roles', ','))",
        roles=",".join(ROLES),
    )
    assert {tuple(row) for row in grants} == TABLE_GRANTS
    executes = node.psql(
        "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
        " AND has_function_privilege('audit_retention', p.oid, 'EXECUTE')"
        " AND NOT has_function_privilege('public', p.oid, 'EXECUTE')"
    )
    assert executes == [["audit_logs_delete_expired"]]


def test_the_assignments_flow_through_items_url_is_audited_once_per_request(stack, first_up, node):
    items_url = stack.output("items_url")
    before = int(node.psql("SELECT coalesce(max(id), 0) FROM audit_logs")[0][0])
    created = requests.post(
        f"{items_url}/items", json={"name": "on a real node", "description": "e2e-pods"}, timeout=10
    )
    assert created.status_code == 201, created.text
    item = created.json()
    listed = requests.get(f"{items_url}/items", timeout=10)
    assert listed.status_code == 200
    assert item["id"] in [entry["id"] for entry in listed.json()]
    one = requests.get(f"{items_url}/items/{item['id']}", timeout=10)
    assert one.status_code == 200 and one.json() == item
    request_ids = [response.headers["X-Request-ID"] for response in (created, listed, one)]

    # The relay delivers the outbox asynchronously: wait for the rows, not a fixed time.
    deadline = time.monotonic() + 60
    while True:
        rows = node.psql(
            "SELECT request_id, action, status_code FROM audit_logs"
            " WHERE id > :'before' ORDER BY occurred_at",
            before=str(before),
        )
        if len(rows) >= len(request_ids) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(row[0] for row in rows) == sorted(request_ids), rows
    assert [row[2] for row in rows] == ["201", "200", "200"], rows
    assert node.psql("SELECT count(*) FROM audit_outbox") == [["0"]]
