"""Grafana: the Prometheus datasource and the repository's dashboards provisioned
from the `monitoring` package, an admin password generated at the first deploy,
and a NodePort Service."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

import monitoring
from infra import pods
from infra.prometheus import FORMER_PARENT

# Pinned by its (multi-arch index) digest. 11.6, patched: the newest Grafana whose
# dashboard model grafana-foundation-sdk publishes (requirements-dev.txt), which
# monitoring/dashboard_builder.py builds the dashboard with; a test keeps them in step.
# Written whole, name:tag@digest in one literal, so that Renovate's pattern reads it.
GRAFANA_IMAGE = "grafana/grafana:11.6.16@sha256:d67af92050b8d93b393dc741864752a69c9da1ffa39c1bb9af49ad5d9e47d2c3"  # noqa: E501
NAME = "grafana"
GRAFANA_PORT = 3000
# Where the dashboards ConfigMap is mounted in the pod.
DASHBOARDS_MOUNT_PATH = "/etc/grafana/dashboards"


@dataclass(frozen=True)
class GrafanaArgs:
    namespace: pulumi.Input[str]
    prometheus_url: str
    # A NodePort Service open to every source; None: reachable inside the cluster only.
    node_port: int | None


class Grafana(pulumi.ComponentResource):
    admin_password: pulumi.Output

    def __init__(
        self, resource_name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:monitoring:Grafana", resource_name, None, opts)
        name, namespace = NAME, args.namespace
        child = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(parent=FORMER_PARENT)])
        password = random.RandomPassword(
            "grafana-admin-password", length=24, special=False, opts=child
        )
        self.admin_password = password.result
        secret_data = {"admin-password": password.result}
        secret = k8s.core.v1.Secret(
            "grafana-admin",
            metadata=pods.metadata("grafana-admin", namespace),
            type="Opaque",
            string_data=secret_data,
            opts=child,
        )
        datasources_data = {"datasources.yml": monitoring.grafana_datasources(args.prometheus_url)}
        providers_data = {
            "dashboards.yml": monitoring.grafana_dashboard_providers(DASHBOARDS_MOUNT_PATH)
        }
        dashboards_data = monitoring.dashboards()
        datasources = pods.config_map("grafana-datasources", namespace, datasources_data, child)
        providers = pods.config_map("grafana-dashboard-providers", namespace, providers_data, child)
        dashboards = pods.config_map("grafana-dashboards", namespace, dashboards_data, child)
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
            # The dashboard uses only the core Prometheus datasource; without this,
            # Grafana 12 downloads its default plugins at every start.
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
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
                pods.mount("dashboards", DASHBOARDS_MOUNT_PATH),
                pods.mount("data", "/var/lib/grafana", read_only=False),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("100m", "128Mi", "500m", "512Mi"),
            # The first start runs Grafana's database migrations, which can take
            # minutes on a slow disk: liveness begins only once it has answered.
            startup_probe=pods.http_probe("/api/health", "http", period=5, failures=60),
            liveness_probe=pods.http_probe("/api/health", "http", period=10, failures=3),
            readiness_probe=pods.http_probe("/api/health", "http", period=5, failures=3),
        )
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata=pods.workload_metadata(name, namespace),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(name)),
                # Grafana reads its provisioning at start: new ConfigMap names roll it.
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=pods.labels(name),
                        # Its database is an emptyDir: a restart applies a new password.
                        annotations=pods.secret_checksum_annotation(secret_data),
                    ),
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
        # After the Deployment: the Service's wait for ready endpoints starts with the pods.
        pods.service(
            name,
            namespace,
            GRAFANA_PORT,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[deployment])),
            node_port=args.node_port,
        )
        self.register_outputs({})
