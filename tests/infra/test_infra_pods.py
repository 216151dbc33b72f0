"""Every pod meets the DESIGN §7 baseline: non-root, read-only root with
writable emptyDirs, no capabilities, no privilege escalation, seccomp
RuntimeDefault, requests and limits, probes, and a graceful drain."""

import pytest

from tests.infra.k8s_objects import containers, find, pod_templates

LONG_RUNNING = [
    "Deployment/items-service",
    "Deployment/audit-service",
    "StatefulSet/postgres",
    "Deployment/prometheus",
    "Deployment/grafana",
]
PERIODIC = ["CronJob/audit-retention"]


def test_the_pod_checks_cover_every_workload(objects):
    workloads = set(pod_templates(objects))
    jobs = {w for w in workloads if w.startswith("Job/postgres-schema-")}
    assert len(jobs) == 1 and workloads - jobs == {*LONG_RUNNING, *PERIODIC}


def test_every_pod_runs_as_a_non_root_user_with_the_runtime_default_seccomp_profile(objects):
    for workload, template in pod_templates(objects).items():
        context = template["spec"]["securityContext"]
        assert context["runAsNonRoot"] is True, workload
        assert context["runAsUser"] >= 10000, workload
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, workload


def test_every_container_is_locked_down(objects):
    for workload, template in pod_templates(objects).items():
        for container in containers(template):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, workload
            assert context["allowPrivilegeEscalation"] is False, workload
            assert context["capabilities"] == {"drop": ["ALL"]}, workload
            assert context.get("privileged", False) is False, workload


def test_every_container_has_cpu_memory_and_ephemeral_storage_requests_and_limits(objects):
    for workload, template in pod_templates(objects).items():
        for container in containers(template):
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {
                    "cpu",
                    "memory",
                    "ephemeral-storage",
                }, workload


def _bytes(quantity: str) -> int:
    """A Kubernetes quantity in bytes (the binary suffixes the manifests use)."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity)


def test_every_container_reserves_the_node_disk_its_emptydirs_may_fill(objects):
    """An emptyDir's sizeLimit alone reserves nothing: the scheduler places a pod
    by its containers' ephemeral-storage requests. Disk-backed emptyDirs only;
    memory-backed ones count against the memory limit."""
    for workload, template in pod_templates(objects).items():
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in containers(template):
            # (PostgreSQL's data volume is a claim, not one of the pod's volumes.)
            empty_dirs = [
                volumes.get(mount["name"], {}).get("emptyDir")
                for mount in container["volumeMounts"]
                if not mount.get("readOnly")
            ]
            written = sum(
                _bytes(empty_dir["sizeLimit"])
                for empty_dir in empty_dirs
                if empty_dir and empty_dir.get("medium") != "Memory"
            )
            resources = container["resources"]
            for bound in ("requests", "limits"):
                reserved = _bytes(resources[bound]["ephemeral-storage"])
                assert reserved > written, (workload, container["name"], bound)


def test_prometheus_reserves_its_two_gibibyte_data_volume(objects):
    container = find(objects, "Deployment", "prometheus")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert _bytes(container["resources"]["requests"]["ephemeral-storage"]) > 2 * 2**30


def test_postgres_is_guaranteed_its_memory(objects):
    """Request == limit: under node memory pressure the kubelet evicts first the
    pods that use more memory than they requested."""
    (container,) = find(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"][
        "containers"
    ]
    resources = container["resources"]
    assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_every_writable_path_is_an_emptydir_or_the_database_volume(objects):
    for workload, template in pod_templates(objects).items():
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for container in containers(template):
            for mount in container["volumeMounts"]:
                if not mount.get("readOnly"):
                    volume = volumes.get(mount["name"], {})
                    assert "emptyDir" in volume or (
                        workload == "StatefulSet/postgres" and mount["name"] == "data"
                    ), (workload, mount)


def test_every_long_running_container_has_liveness_and_readiness_probes(objects):
    templates = pod_templates(objects)
    for workload in LONG_RUNNING:
        for container in containers(templates[workload]):
            assert container["livenessProbe"] and container["readinessProbe"], workload


GUNICORN_GRACEFUL_SECONDS = 20  # service_common/gunicorn_settings.py: graceful_timeout


def test_audit_service_is_probed_on_its_operations_port_and_drains_before_stopping(objects):
    template = find(objects, "Deployment", "audit-service")["spec"]["template"]
    [container] = template["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": int(env["PORT"]), "ops": int(env["OPS_PORT"])}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    drain = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    # The grace period covers the drain and gunicorn's graceful stop after it.
    assert template["spec"]["terminationGracePeriodSeconds"] >= drain + GUNICORN_GRACEFUL_SECONDS
    assert {"name": "tmp", "mountPath": "/tmp", "readOnly": False} in container["volumeMounts"]


def test_items_service_is_reached_only_through_its_buffering_proxy(objects):
    template = find(objects, "Deployment", "items-service")["spec"]["template"]
    items, proxy = template["spec"]["containers"]
    env = {e["name"]: e["value"] for e in items["env"]}
    nginx_conf = find(objects, "ConfigMap", "items-service-proxy")["data"]["nginx.conf"]
    # gunicorn's service port on loopback only, where the proxy passes requests on,
    # trusting only it for the client's address; its operations port (probes and
    # metrics) on the pod's addresses.
    assert items["ports"] == [{"name": "ops", "containerPort": int(env["OPS_PORT"])}]
    assert (env["BIND_ADDRESS"], env["TRUSTED_PROXY_COUNT"]) == ("127.0.0.1", "1")
    assert env["OPS_BIND_ADDRESS"] == "0.0.0.0"
    assert f"proxy_pass http://127.0.0.1:{env['PORT']};" in nginx_conf
    # The public port is the proxy's; the kubelet probes gunicorn on its operations
    # port, where the proxy's per-client limits cannot refuse it.
    ports = {port["name"]: port["containerPort"] for port in proxy["ports"]}
    assert f"listen {ports['http']};" in nginx_conf
    assert f"listen {ports['proxy-health']};" in nginx_conf
    assert items["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    assert items["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert proxy["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "proxy-health"}
    assert "@sha256:" in proxy["image"]
    # nginx drains first (worker_shutdown_timeout), gunicorn after it, both within the grace.
    proxy_drain = proxy["lifecycle"]["preStop"]["sleep"]["seconds"]
    items_drain = items["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert "worker_shutdown_timeout 10s;" in nginx_conf
    assert items_drain >= proxy_drain + 10
    assert template["spec"]["terminationGracePeriodSeconds"] >= (
        items_drain + GUNICORN_GRACEFUL_SECONDS
    )


def test_items_keeps_serving_through_rollouts_and_drains(objects):
    spec = find(objects, "Deployment", "items-service")["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = find(objects, "PodDisruptionBudget", "items-service")["spec"]
    assert budget["maxUnavailable"] == 1


def test_postgres_keeps_its_data_in_a_subdirectory_of_a_claim_deleted_with_the_statefulset(objects):
    spec = find(objects, "StatefulSet", "postgres")["spec"]
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    data_mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
    assert env["PGDATA"].startswith(data_mount["mountPath"] + "/")
    assert env["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets/")
    assert "POSTGRES_PASSWORD" not in env
    assert [t["metadata"]["name"] for t in spec["volumeClaimTemplates"]] == ["data"]
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"][0] == "pg_isready"
    assert container["image"].startswith("postgres:16") and "@sha256:" in container["image"]


def test_no_secret_value_is_in_any_pod_environment(objects):
    for workload, template in pod_templates(objects).items():
        for container in containers(template):
            for variable in container.get("env", []):
                assert "valueFrom" not in variable, (workload, variable["name"])
                assert not any(
                    word in variable["name"] for word in ("PASSWORD", "TOKEN")
                ) or variable["name"].endswith("_FILE"), (workload, variable["name"])
            assert "envFrom" not in container, workload


def test_only_prometheus_gets_a_service_account_token(objects):
    for workload, template in pod_templates(objects).items():
        assert template["spec"]["automountServiceAccountToken"] is (
            workload == "Deployment/prometheus"
        ), workload


def test_grafana_may_take_minutes_on_its_first_start_and_downloads_nothing(objects):
    container = find(objects, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/api/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"


def test_prometheus_deletes_old_data_before_its_volume_is_full(objects):
    spec = find(objects, "Deployment", "prometheus")["spec"]["template"]["spec"]
    [retention] = [a for a in spec["containers"][0]["args"] if "retention.size" in a]
    volume = next(v for v in spec["volumes"] if v["name"] == "data")["emptyDir"]["sizeLimit"]
    retained_bytes = int(retention.split("=")[1].removesuffix("MB")) * 10**6
    volume_bytes = int(volume.removesuffix("Gi")) * 2**30
    assert retained_bytes <= 0.8 * volume_bytes


@pytest.mark.parametrize("service", ["items-service", "audit-service"])
def test_metrics_are_scraped_on_a_port_the_service_does_not_expose(objects, service):
    template = find(objects, "Deployment", service)["spec"]["template"]
    scraped = int(template["metadata"]["annotations"]["prometheus.io/port"])
    ports = {
        port["name"]: port["containerPort"]
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
    }
    exposed = find(objects, "Service", service)["spec"]["ports"]

    assert ports["ops"] == scraped
    assert [port["targetPort"] for port in exposed] == ["http"]
    assert ports["http"] != scraped
