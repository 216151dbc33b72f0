"""Prometheus and Grafana. Their content (scrape config, alert rules,
provisioning, dashboards) comes from the repository's `monitoring` package."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

import monitoring
from infra import pods

# Pinned by their (multi-arch index) digests. Prometheus 3.5 is an LTS release.
PROMETHEUS_IMAGE = (
    "prom/prometheus:v3.5.0@sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996"
)
GRAFANA_IMAGE = (
    "grafana/grafana:12.1.1@sha256:a1701c2180249361737a99a01bc770db39381640e4d631825d38ff4535efa47d"
)
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
DASHBOARDS_DIR = "/etc/grafana/dashboards"


@dataclass(frozen=True)
class MonitoringArgs:
    # The Namespace resource's name (an Output, so that everything here waits for it).
    namespace: pulumi.Input[str]
    # The same name as a plain value: it goes into prometheus.yml.
    namespace_name: str
    prometheus_node_port: int
    grafana_node_port: int


class Monitoring(pulumi.ComponentResource):
    grafana_admin_password: pulumi.Output

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("items-audit:monitoring:Monitoring", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._prometheus(args)
        self._grafana(args)
        self.register_outputs({})

    def _node_port_service(self, name: str, namespace, port: int, node_port: int) -> None:
        k8s.core.v1.Service(
            name,
            metadata=pods.metadata(name, namespace),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="NodePort",
                selector=pods.labels(name),
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name="http", port=port, target_port="http", node_port=node_port
                    )
                ],
            ),
            opts=self._child,
        )

    def _prometheus(self, args: MonitoringArgs) -> None:
        name, namespace, child = "prometheus", args.namespace, self._child
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
        config = _config_map("prometheus-config", namespace, config_data, child)
        rules = _config_map("prometheus-rules", namespace, rules_data, child)
        container = k8s.core.v1.ContainerArgs(
            name=name,
            image=PROMETHEUS_IMAGE,
            image_pull_policy="IfNotPresent",
            args=[
                "--config.file=/etc/prometheus/config/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=7d",
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
        k8s.apps.v1.Deployment(
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
                            # Metrics live as long as the pod: a local demo, not an archive.
                            pods.empty_dir("data", "2Gi"),
                        ],
                        grace_seconds=30,
                        # Pod discovery authenticates with this account's token.
                        service_account=account.metadata.name,
                    ),
                ),
            ),
            opts=child,
        )
        self._node_port_service(name, namespace, PROMETHEUS_PORT, args.prometheus_node_port)

    def _grafana(self, args: MonitoringArgs) -> None:
        name, namespace, child = "grafana", args.namespace, self._child
        password = random.RandomPassword(
            "grafana-admin-password", length=24, special=False, opts=child
        )
        self.grafana_admin_password = password.result
        secret = k8s.core.v1.Secret(
            "grafana-admin",
            metadata=pods.metadata("grafana-admin", namespace),
            type="Opaque",
            string_data={"admin-password": password.result},
            opts=child,
        )
        datasources_data = {
            "datasources.yml": monitoring.grafana_datasources(
                f"http://prometheus:{PROMETHEUS_PORT}"
            )
        }
        providers_data = {"dashboards.yml": monitoring.grafana_dashboard_providers(DASHBOARDS_DIR)}
        dashboards_data = monitoring.dashboards()
        datasources = _config_map("grafana-datasources", namespace, datasources_data, child)
        providers = _config_map("grafana-dashboard-providers", namespace, providers_data, child)
        dashboards = _config_map("grafana-dashboards", namespace, dashboards_data, child)
        env = {
            "GF_SECURITY_ADMIN_USER": "admin",
            "GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/grafana/admin-password",
            "GF_PATHS_DATA": "/var/lib/grafana",
            "GF_PATHS_LOGS": "/var/lib/grafana/log",
            "GF_PATHS_PROVISIONING": "/etc/grafana/provisioning",
            "GF_LOG_MODE": "console",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        }
        container = k8s.core.v1.ContainerArgs(
            name=name,
            image=GRAFANA_IMAGE,
            image_pull_policy="IfNotPresent",
            env=[k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in env.items()],
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=GRAFANA_PORT)],
            volume_mounts=[
                pods.mount("admin-secret", "/run/secrets/grafana"),
                pods.mount("datasources", "/etc/grafana/provisioning/datasources"),
                pods.mount("dashboard-providers", "/etc/grafana/provisioning/dashboards"),
                pods.mount("dashboards", DASHBOARDS_DIR),
                pods.mount("data", "/var/lib/grafana", read_only=False),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("100m", "128Mi", "500m", "512Mi"),
            liveness_probe=pods.http_probe(
                "/api/health", "http", period=10, failures=3, initial_delay=30
            ),
            readiness_probe=pods.http_probe("/api/health", "http", period=5, failures=3),
        )
        k8s.apps.v1.Deployment(
            name,
            metadata=pods.workload_metadata(name, namespace),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(name)),
                # Grafana reads its provisioning at start: new ConfigMap names roll it.
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(name)),
                    spec=pods.pod_spec(
                        [container],
                        [
                            pods.secret_volume("admin-secret", secret.metadata.name),
                            pods.config_map_volume("datasources", datasources.metadata.name),
                            pods.config_map_volume("dashboard-providers", providers.metadata.name),
                            pods.config_map_volume("dashboards", dashboards.metadata.name),
                            pods.empty_dir("data", "512Mi"),
                            pods.empty_dir("tmp"),
                        ],
                        grace_seconds=30,
                    ),
                ),
            ),
            opts=child,
        )
        self._node_port_service(name, namespace, GRAFANA_PORT, args.grafana_node_port)


def _config_map(name: str, namespace, data: dict[str, str], opts) -> k8s.core.v1.ConfigMap:
    """A ConfigMap named by Pulumi (`name-<suffix>`): a change of its data creates a
    new one and deletes the old one after the pods have moved, so a pod never
    starts without it (a fixed name would be deleted, then created)."""
    return k8s.core.v1.ConfigMap(
        name, metadata=pods.metadata(None, namespace, app=name), data=data, opts=opts
    )
