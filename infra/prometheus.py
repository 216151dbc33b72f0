"""Prometheus: pod discovery limited to the stack's namespace, the repository's
alert rules, and a NodePort Service. Its config and rules come from the
`monitoring` package."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

import monitoring
from infra import pods

# Pinned by its (multi-arch index) digest. Prometheus 3.5 is an LTS release.
PROMETHEUS_IMAGE = (
    "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"
)
NAME = "prometheus"  # the Deployment, its Service (so the in-cluster host name) and pod label
PROMETHEUS_PORT = 9090
URL = f"http://{NAME}:{PROMETHEUS_PORT}"
# Metrics live as long as the pod (an emptyDir): a local demo, not an archive.
DATA_VOLUME_SIZE = "2Gi"
# Blocks are cut every 2 hours and the WAL comes on top: leave a quarter free.
RETENTION_SIZE = "1536MB"

# Until this module existed, Prometheus and Grafana were one component; the alias
# keeps the objects it created (same names, same types) under their new parent.
FORMER_PARENT = pulumi.create_urn("monitoring", "items-audit:monitoring:Monitoring")


@dataclass(frozen=True)
class PrometheusArgs:
    # The Namespace resource's name (an Output, so that everything here waits for it).
    namespace: pulumi.Input[str]
    # The same name as a plain value: it goes into prometheus.yml.
    namespace_name: str
    # A NodePort Service open to every source; None: reachable inside the cluster only.
    node_port: int | None


class Prometheus(pulumi.ComponentResource):
    def __init__(
        self, resource_name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:monitoring:Prometheus", resource_name, None, opts)
        name, namespace = NAME, args.namespace
        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=FORMER_PARENT)])
        account = k8s.core.v1.ServiceAccount(
            name,
            metadata=pods.metadata(name, namespace),
            automount_service_account_token=False,
            opts=child,
        )
        # Discovery reads the pods of this namespace only: a Role, not a ClusterRole.
        role = k8s.rbac.v1.Role(
            name,
            metadata=pods.metadata(name, namespace),
            rules=[
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"]
                )
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            name,
            metadata=pods.metadata(name, namespace),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role.metadata.name
            ),
            subjects=[
                k8s.rbac.v1.SubjectArgs(
                    kind="ServiceAccount", name=account.metadata.name, namespace=namespace
                )
            ],
            opts=child,
        )
        config_data = {"prometheus.yml": monitoring.prometheus_config(args.namespace_name)}
        rules_data = monitoring.alert_rules()
        config = pods.config_map("prometheus-config", namespace, config_data, child)
        rules = pods.config_map("prometheus-rules", namespace, rules_data, child)
        container = k8s.core.v1.ContainerArgs(
            name=name,
            image=PROMETHEUS_IMAGE,
            image_pull_policy="IfNotPresent",
            args=[
                "--config.file=/etc/prometheus/config/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=7d",
                # Below the data volume's limit (DATA_VOLUME_SIZE): the kubelet evicts a
                # pod whose emptyDir outgrows its sizeLimit.
                f"--storage.tsdb.retention.size={RETENTION_SIZE}",
            ],
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PROMETHEUS_PORT)],
            volume_mounts=[
                pods.mount("config", "/etc/prometheus/config"),
                pods.mount("rules", "/etc/prometheus/rules"),
                pods.mount("data", "/prometheus", read_only=False),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("100m", "256Mi", "1", "1Gi"),
            liveness_probe=pods.http_probe("/-/healthy", "http", period=10, failures=3),
            readiness_probe=pods.http_probe("/-/ready", "http", period=5, failures=3),
        )
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata=pods.workload_metadata(name, namespace),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(name)),
                # One server at a time owns the data directory.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                # A new config or rule set is a ConfigMap of a new name, which rolls
                # the server: it reads them at start.
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(name)),
                    spec=pods.pod_spec(
                        [container],
                        [
                            pods.config_map_volume("config", config.metadata.name),
                            pods.config_map_volume("rules", rules.metadata.name),
                            pods.empty_dir("data", DATA_VOLUME_SIZE),
                        ],
                        grace_seconds=30,
                        # Pod discovery authenticates with this account's token.
                        service_account=account.metadata.name,
                    ),
                ),
            ),
            opts=child,
        )
        # After the Deployment: the Service's wait for ready endpoints starts with the pods.
        pods.service(
            name,
            namespace,
            PROMETHEUS_PORT,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[deployment])),
            node_port=args.node_port,
        )
        self.register_outputs({})
