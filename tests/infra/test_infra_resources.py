"""The full set of Kubernetes objects (and the other resources) the dev stack creates."""

from infra import mock_runtime
from tests.infra.k8s_objects import find, is_autonamed, logical_name, pod_templates

EXPECTED_OBJECTS = {
    ("Namespace", "items-audit"),
    # PostgreSQL and its schema
    ("Secret", "postgres-admin"),
    ("Service", "postgres"),
    ("StatefulSet", "postgres"),
    ("Secret", "database-roles"),
    ("ConfigMap", "SCHEMA_JOB"),
    ("Job", "SCHEMA_JOB"),
    # the audit trail's retention
    ("Secret", "audit-retention-db"),
    ("ConfigMap", "audit-retention"),
    ("CronJob", "audit-retention"),
    ("NetworkPolicy", "allow-audit-retention-egress"),
    # the services
    ("Secret", "items-service"),
    ("ConfigMap", "items-service-proxy"),
    ("Deployment", "items-service"),
    ("Service", "items-service"),
    ("PodDisruptionBudget", "items-service"),
    ("Secret", "audit-service"),
    ("Deployment", "audit-service"),
    ("Service", "audit-service"),
    ("PodDisruptionBudget", "audit-service"),
    # network policies
    ("NetworkPolicy", "default-deny-ingress"),
    ("NetworkPolicy", "default-deny-egress"),
    ("NetworkPolicy", "allow-dns-egress"),
    ("NetworkPolicy", "allow-items-service-egress"),
    ("NetworkPolicy", "allow-audit-service-egress"),
    ("NetworkPolicy", "allow-postgres-schema-egress"),
    ("NetworkPolicy", "allow-prometheus-egress"),
    ("NetworkPolicy", "allow-grafana-egress"),
    ("NetworkPolicy", "allow-items-service"),
    ("NetworkPolicy", "allow-audit-service"),
    ("NetworkPolicy", "allow-postgres"),
    ("NetworkPolicy", "allow-prometheus"),
    ("NetworkPolicy", "allow-grafana"),
    # monitoring
    ("ServiceAccount", "prometheus"),
    ("Role", "prometheus"),
    ("RoleBinding", "prometheus"),
    ("ConfigMap", "prometheus-config"),
    ("ConfigMap", "prometheus-rules"),
    ("Deployment", "prometheus"),
    ("Service", "prometheus"),
    ("Secret", "grafana-admin"),
    ("ConfigMap", "grafana-datasources"),
    ("ConfigMap", "grafana-dashboard-providers"),
    ("ConfigMap", "grafana-dashboards"),
    ("Deployment", "grafana"),
    ("Service", "grafana"),
}


def test_the_dev_stack_creates_exactly_the_designed_objects(objects):
    job = next(o["metadata"]["name"] for o in objects if o["kind"] == "Job")
    expected = {(kind, job if name == "SCHEMA_JOB" else name) for kind, name in EXPECTED_OBJECTS}
    assert sorted((o["kind"], logical_name(o)) for o in objects) == sorted(expected)


def test_config_maps_a_server_reads_at_start_are_named_by_pulumi_so_a_change_rolls_it(objects):
    """A changed ConfigMap of a fixed name would be deleted, then created: a pod
    starting in between fails. Named by Pulumi, a new one is created first, the
    pod template's reference changes (which rolls the pods), then the old one goes."""
    autonamed = {logical_name(o) for o in objects if o["kind"] == "ConfigMap" and is_autonamed(o)}
    assert autonamed == {
        "audit-retention",
        "items-service-proxy",
        "prometheus-config",
        "prometheus-rules",
        "grafana-datasources",
        "grafana-dashboard-providers",
        "grafana-dashboards",
    }
    referenced = {
        volume["configMap"]["name"]
        for template in pod_templates(objects).values()
        for volume in template["spec"]["volumes"]
        if "configMap" in volume
    }
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    assert referenced == names


def test_everything_but_the_namespace_lives_in_the_configured_namespace(objects):
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == "items-audit", o["metadata"]["name"]


def test_the_namespace_enforces_the_restricted_pod_security_standard(objects):
    labels = find(objects, "Namespace", "items-audit")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_secrets_are_generated_and_no_plain_secret_is_in_stack_config(run, dev_config):
    passwords = {r.name for r in run.by_type("random:index/randomPassword:RandomPassword")}
    assert passwords == {
        "postgres-superuser-password",
        "items-service-db-password",
        "audit-retention-db-password",
        "audit-service-db-password",
        "audit-token",
        "grafana-admin-password",
    }
    assert not any(
        word in key for key in dev_config for word in ("password", "token", "database_url")
    )


def test_both_images_are_built_from_the_repository_dockerfiles_and_never_tagged_latest(run):
    images = {r.name: r.inputs for r in run.by_type("docker:index/image:Image")}
    assert set(images) == {"items-service", "audit-service"}
    for service, image in images.items():
        assert image["build"]["dockerfile"].endswith(f"{service}/Dockerfile")
        assert image["build"]["dockerfile"].startswith(image["build"]["context"])
        name, tag = image["imageName"].rsplit(":", 1)
        assert name == service and len(tag) == 16 and tag != "latest"
        assert image["skipPush"] is True  # kind: no registry


def test_on_kind_the_images_are_loaded_into_the_cluster_before_the_pods_use_them(run, objects):
    loads = {r.name: r for r in run.by_type("command:local:Command")}
    assert set(loads) == {"items-service-load", "audit-service-load"}
    deployments = {r.name: r for r in run.by_type("kubernetes:apps/v1:Deployment")}
    for service in ("items-service", "audit-service"):
        image = find(objects, "Deployment", service)["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        script = loads[f"{service}-load"].inputs["create"]
        # One platform saved to an archive: works with Docker's containerd image store too.
        assert f'docker image save --platform linux/amd64 --output "$archive" {image}' in script
        assert 'kind load image-archive --name items-audit "$archive"' in script
        assert loads[f"{service}-load"].urn in deployments[service].dependencies


def test_a_kind_cluster_created_again_gets_the_images_loaded_again(run):
    """The load step cannot see into the node: it runs again when the node
    container is a new one, which is the case for a cluster created again."""
    for load in run.by_type("command:local:Command"):
        node = mock_runtime.LOCAL_COMMAND_OUTPUTS["inspect"]
        assert node in load.inputs["triggers"], load.name


def test_images_are_built_in_the_docker_engine_of_the_current_context_for_its_platform(run):
    providers = run.by_type("pulumi:providers:docker")
    assert [p.inputs["host"] for p in providers] == [mock_runtime.LOCAL_COMMAND_OUTPUTS["context"]]
    for image in run.by_type("docker:index/image:Image"):
        assert image.inputs["build"]["platform"] == mock_runtime.LOCAL_COMMAND_OUTPUTS["version"]


def test_every_namespaced_object_waits_for_the_namespace(run):
    namespace = run.by_type("kubernetes:core/v1:Namespace")[0]
    for resource in run.resources:
        if resource.type.startswith("kubernetes:") and resource is not namespace:
            assert namespace.urn in resource.dependencies, (resource.type, resource.name)


# What the stack's monitoring objects were called before Prometheus and Grafana
# became components of their own (commit 75071c5).
URNS_BEFORE_THE_MONITORING_SPLIT = {
    f"urn:pulumi:dev::items-audit::items-audit:monitoring:Monitoring${type_}::{name}"
    for type_, name in [
        ("random:index/randomPassword:RandomPassword", "grafana-admin-password"),
        ("kubernetes:core/v1:ServiceAccount", "prometheus"),
        ("kubernetes:rbac.authorization.k8s.io/v1:Role", "prometheus"),
        ("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "prometheus"),
        ("kubernetes:core/v1:ConfigMap", "prometheus-config"),
        ("kubernetes:core/v1:ConfigMap", "prometheus-rules"),
        ("kubernetes:apps/v1:Deployment", "prometheus"),
        ("kubernetes:core/v1:Service", "prometheus"),
        ("kubernetes:core/v1:Secret", "grafana-admin"),
        ("kubernetes:core/v1:ConfigMap", "grafana-datasources"),
        ("kubernetes:core/v1:ConfigMap", "grafana-dashboard-providers"),
        ("kubernetes:core/v1:ConfigMap", "grafana-dashboards"),
        ("kubernetes:apps/v1:Deployment", "grafana"),
        ("kubernetes:core/v1:Service", "grafana"),
    ]
}


def test_resources_moved_to_new_parents_keep_their_identity_so_nothing_is_replaced(run):
    """Pulumi identifies a resource by its URN, which includes its parent's type: a
    resource that moves without an alias to its former URN is deleted and created."""
    answered = {urn for resource in run.resources for urn in resource.former_urns}
    assert answered >= URNS_BEFORE_THE_MONITORING_SPLIT
