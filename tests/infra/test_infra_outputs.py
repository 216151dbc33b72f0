"""Stack outputs, and what other stack configurations change."""

import base64
import json
import re

import pytest

from infra import mock_runtime
from tests.infra.k8s_objects import find

# A remote cluster as little configured as it may be: a registry, and the host
# name its Ingress answers for.
REMOTE = {
    "items-audit:cluster": "remote",
    "items-audit:image_registry": "registry.example.com/team",
    "items-audit:public_host": "items.example.com",
}


def test_the_dev_stack_outputs_what_the_readme_uses(run):
    assert run.outputs == {
        "namespace": "items-audit",
        "items_url": "http://localhost:8080",
        "grafana_url": "http://localhost:3000",
        "prometheus_url": "http://localhost:9090",
        "grafana_admin_password": "mock-grafana-admin-password-0123456789",
    }
    assert run.secret_outputs == {"grafana_admin_password"}


def test_a_node_port_cluster_other_than_kind_is_reached_on_the_node_ports():
    run = mock_runtime.run(
        {"items-audit:cluster": "docker-desktop", "items-audit:namespace": "shop"}
    )
    assert run.outputs["items_url"] == "http://localhost:30080"
    assert run.outputs["grafana_url"] == "http://localhost:30300"
    assert run.outputs["namespace"] == "shop"
    assert not run.by_type("command:local:Command"), "Docker Desktop's cluster shares the engine"
    assert all(o["metadata"].get("namespace", "shop") == "shop" for o in run.kubernetes_objects())


def test_a_remote_cluster_gets_the_images_pushed_and_pinned_by_their_registry_digest():
    run = mock_runtime.run(REMOTE)
    images = {r.name: r.inputs for r in run.by_type("docker:index/image:Image")}
    assert images["items-service"]["imageName"].startswith(
        "registry.example.com/team/items-service:"
    )
    assert images["items-service"]["skipPush"] is False
    container = find(run.kubernetes_objects(), "Deployment", "items-service")["spec"]["template"][
        "spec"
    ]["containers"][0]
    assert container["image"].startswith("registry.example.com/team/items-service@sha256:")
    assert not run.by_type("command:local:Command")


def test_an_external_database_replaces_the_statefulset():
    url = "postgresql://admin:s3cr%40t@db.example.com:6543/shop?sslmode=verify-full"
    run = mock_runtime.run(
        {"items-audit:database_url": url, "items-audit:database_cidrs": "10.0.12.0/24"},
        secret_keys=("items-audit:database_url",),
    )
    objects = run.kubernetes_objects()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert ("StatefulSet", "postgres") not in kinds and ("Service", "postgres") not in kinds
    assert ("NetworkPolicy", "allow-postgres") not in kinds
    items_url = find(objects, "Secret", "items-service")["stringData"]["database-url"]
    assert items_url.startswith("postgresql://items_service:")
    assert items_url.endswith("@db.example.com:6543/shop?sslmode=verify-full")
    service_file = find(objects, "Secret", "schema-migrator")["stringData"]["pg_service.conf"]
    assert (
        "user=admin\n" in service_file
        and "password=s3cr@t\n" in service_file
        and "sslmode=verify-full\n" in service_file
    )
    job = next(r for r in run.resources if r.type == "kubernetes:batch/v1:Job")
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "sh",
        "/schema/apply.sh",
    ]


def test_monitoring_can_be_left_out():
    run = mock_runtime.run({"items-audit:monitoring": "false"})
    names = {o["metadata"]["name"] for o in run.kubernetes_objects()}
    assert not names & {"prometheus", "grafana"}
    assert set(run.outputs) == {"namespace", "items_url"}


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("cluster", "remote", "cluster 'remote' needs image_registry"),
        ("cluster", "openshift", "cluster must be one of kind, minikube"),
        ("items_replicas", "1", "items_replicas must be at least 2"),
        ("items_replicas", "0", "items_replicas must be at least 2"),
        ("items_replicas", "two", "'items-audit:items_replicas' value 'two' is not a valid 'int'"),
        ("audit_replicas", "0", "audit_replicas must be at least 1"),
        ("log_level", "verbose", "log_level must be one of debug, info"),
        ("monitoring", "maybe", "'items-audit:monitoring' value 'maybe' is not a valid 'bool'"),
        ("namespace", "Items_Audit", "namespace must be a lowercase DNS label"),
        ("postgres_storage", "lots", "postgres_storage must be a size like 1Gi"),
        ("audit_retention_days", "0", "audit_retention_days must be from 1 to 3650, not 0"),
        ("items_replica", "3", "unknown stack setting(s): items_replica"),
        ("items_image", "items-service:latest", "items_image must name an image by digest"),
    ],
)
def test_an_invalid_stack_setting_stops_the_program_with_a_message_naming_it(
    setting, value, message
):
    with pytest.raises(Exception, match=re.escape(message)):
        mock_runtime.run({f"items-audit:{setting}": value})


def test_a_private_registry_gets_a_pull_secret_the_service_pods_use():
    run = mock_runtime.run(
        {
            **REMOTE,
            "items-audit:registry_username": "robot",
            "items-audit:registry_password": "s3cret",
        },
        secret_keys=("items-audit:registry_password",),
    )
    objects = run.kubernetes_objects()
    secret = find(objects, "Secret", "registry-credentials")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(secret["stringData"][".dockerconfigjson"])["auths"]
    assert base64.b64decode(auths["registry.example.com"]["auth"]).decode() == "robot:s3cret"
    for service in ("items-service", "audit-service"):
        spec = find(objects, "Deployment", service)["spec"]["template"]["spec"]
        assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    for name in ("prometheus", "grafana"):
        assert (
            "imagePullSecrets" not in find(objects, "Deployment", name)["spec"]["template"]["spec"]
        )


def test_images_built_once_by_ci_are_deployed_by_digest_without_a_build():
    items = "ghcr.io/team/items-service@sha256:" + "a" * 64
    audit = "ghcr.io/team/audit-service@sha256:" + "b" * 64
    run = mock_runtime.run(
        {
            **REMOTE,
            "items-audit:image_registry": "ghcr.io/team",
            "items-audit:items_image": items,
            "items-audit:audit_image": audit,
        }
    )
    assert not run.by_type("docker:index/image:Image")
    assert not run.by_type("command:local:Command")
    objects = run.kubernetes_objects()
    for service, reference in (("items-service", items), ("audit-service", audit)):
        container = find(objects, "Deployment", service)["spec"]["template"]["spec"]["containers"][
            0
        ]
        assert container["image"] == reference


def test_a_remote_cluster_gets_images_for_its_nodes_platform():
    run = mock_runtime.run(
        {
            **REMOTE,
            "items-audit:image_platform": "linux/arm64",
        }
    )
    for image in run.by_type("docker:index/image:Image"):
        assert image.inputs["build"]["platform"] == "linux/arm64"
