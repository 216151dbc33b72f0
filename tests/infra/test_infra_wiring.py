"""Objects that refer to each other agree: Services reach pods on declared
ports, and every Secret, ConfigMap, key and file a pod uses exists."""

import pytest
import yaml

from tests.infra.k8s_objects import containers, find, pod_templates


def _pods_by_labels(objects):
    return {
        workload: template["metadata"]["labels"]
        for workload, template in pod_templates(objects).items()
    }


def test_every_service_selects_pods_and_targets_a_port_they_declare(objects):
    templates = pod_templates(objects)
    services = [o for o in objects if o["kind"] == "Service"]
    assert len(services) == 5
    for service in services:
        selector = service["spec"]["selector"]
        selected = [
            w for w, t in templates.items() if selector.items() <= t["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, (service["metadata"]["name"], selected)
        declared = {
            key
            for container in containers(templates[selected[0]])
            for port in container.get("ports", [])
            for key in (port["containerPort"], port.get("name"))
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in declared, (service["metadata"]["name"], port)


def test_every_workload_selector_and_budget_selects_its_own_pods(objects):
    templates = pod_templates(objects)
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            assert (
                o["spec"]["selector"]["matchLabels"].items()
                <= o["spec"]["template"]["metadata"]["labels"].items()
            )
        if o["kind"] == "PodDisruptionBudget":
            selector = o["spec"]["selector"]["matchLabels"]
            assert [
                w
                for w, t in templates.items()
                if selector.items() <= t["metadata"]["labels"].items()
            ] == [f"Deployment/{o['metadata']['name']}"]


def test_the_headless_database_service_is_literally_postgres(objects):
    service = find(objects, "Service", "postgres")
    assert service["spec"]["clusterIP"] == "None"
    assert find(objects, "StatefulSet", "postgres")["spec"]["serviceName"] == "postgres"


def test_every_secret_and_config_map_a_pod_mounts_exists_with_the_keys_it_reads(objects):
    stored = {
        (o["kind"], o["metadata"]["name"]): set(o.get("stringData", o.get("data", {})))
        for o in objects
        if o["kind"] in ("Secret", "ConfigMap")
    }
    for workload, template in pod_templates(objects).items():
        volumes = {}
        for volume in template["spec"]["volumes"]:
            if "secret" in volume:
                volumes[volume["name"]] = ("Secret", volume["secret"]["secretName"])
            elif "configMap" in volume:
                volumes[volume["name"]] = ("ConfigMap", volume["configMap"]["name"])
        for reference in volumes.values():
            assert reference in stored, (workload, reference)
        # Every *_FILE setting names a key of a mounted Secret or ConfigMap.
        for container in containers(template):
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            for variable in container.get("env", []):
                if variable["name"].endswith("FILE"):
                    directory, key = variable["value"].rsplit("/", 1)
                    assert key in stored[volumes[mounts[directory]]], (workload, variable)


@pytest.mark.parametrize(
    "service, role", [("items-service", "items_service"), ("audit-service", "audit_service")]
)
def test_each_service_connects_with_its_own_role_and_shares_the_audit_token(objects, service, role):
    secret = find(objects, "Secret", service)["stringData"]
    assert secret["database-url"].startswith(f"postgresql://{role}:")
    assert secret["database-url"].endswith("@postgres:5432/itemsdb")
    assert (
        secret["audit-token"]
        == find(objects, "Secret", "audit-service")["stringData"]["audit-token"]
    )
    roles = find(objects, "Secret", "database-roles")["stringData"]
    password = roles["items-password" if service == "items-service" else "audit-password"]
    assert f":{password}@" in secret["database-url"]


def test_items_finds_audit_by_its_service_name(objects):
    container = find(objects, "Deployment", "items-service")["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AUDIT_SERVICE_URL"] == "http://audit-service:8081"


def test_only_the_public_endpoints_leave_the_cluster_and_never_through_a_load_balancer(objects):
    exposed = {
        o["metadata"]["name"]: [p["nodePort"] for p in o["spec"]["ports"]]
        for o in objects
        if o["kind"] == "Service" and o["spec"].get("type") == "NodePort"
    }
    assert exposed == {"items-service": [30080], "grafana": [30300], "prometheus": [30090]}
    assert find(objects, "Service", "audit-service")["spec"]["type"] == "ClusterIP"
    assert not [
        o for o in objects if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"
    ]


def test_prometheus_discovers_pods_in_its_own_namespace_only(objects):
    role = find(objects, "Role", "prometheus")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]
    binding = find(objects, "RoleBinding", "prometheus")
    assert binding["roleRef"]["kind"] == "Role"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "prometheus", "namespace": "items-audit"}
    ]
    config = find(objects, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    assert "items-audit" in config
    assert (
        find(objects, "Deployment", "prometheus")["spec"]["template"]["spec"]["serviceAccountName"]
        == "prometheus"
    )


def test_grafana_is_provisioned_and_reads_its_admin_password_from_a_file(objects):
    container = find(objects, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana/admin-password"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {
        "/etc/grafana/provisioning/datasources",
        "/etc/grafana/provisioning/dashboards",
    } <= mounts
    assert (
        "http://prometheus:9090"
        in find(objects, "ConfigMap", "grafana-datasources")["data"]["datasources.yml"]
    )


def test_grafana_and_prometheus_get_the_monitoring_packages_content(objects):
    import monitoring

    dashboards = find(objects, "ConfigMap", "grafana-dashboards")["data"]
    assert dashboards == monitoring.dashboards() and dashboards
    assert find(objects, "ConfigMap", "prometheus-rules")["data"] == monitoring.alert_rules()
    providers = find(objects, "ConfigMap", "grafana-dashboard-providers")["data"]["dashboards.yml"]
    mounts = find(objects, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"
    ]
    dashboards_mount = next(m["mountPath"] for m in mounts if m["name"] == "dashboards")
    assert yaml.safe_load(providers)["providers"][0]["options"]["path"] == dashboards_mount
    rules_mount = next(
        m["mountPath"]
        for m in find(objects, "Deployment", "prometheus")["spec"]["template"]["spec"][
            "containers"
        ][0]["volumeMounts"]
        if m["name"] == "rules"
    )
    prometheus_yml = yaml.safe_load(
        find(objects, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    )
    assert prometheus_yml["rule_files"] == [f"{rules_mount}/*.yml"]
