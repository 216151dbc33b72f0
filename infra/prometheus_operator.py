"""Monitoring by a cluster's own Prometheus Operator (kube-prometheus-stack), instead of
the stack's Prometheus: a PodMonitor per service and a PrometheusRule with the
repository's alert rules. The custom resource definitions are the operator's; this
stack only creates objects of their kinds."""

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import pods

API_VERSION = "monitoring.coreos.com/v1"
RULES_NAME = "items-audit"


@dataclass(frozen=True)
class ScrapedService:
    # The pods' app.kubernetes.io/name, which also becomes the `service` label of their
    # series, as the stack's own Prometheus labels them (monitoring/prometheus.yml).
    name: str
    port: str  # the name of the container port that serves the metrics
    path: str = "/metrics"


@dataclass(frozen=True)
class PrometheusOperatorMonitoringArgs:
    namespace: pulumi.Input[str]
    services: list[ScrapedService]
    # The groups of monitoring/rules/*.yml (monitoring.rule_groups()).
    rule_groups: list[dict]
    # Labels the cluster's Prometheus selects PodMonitors and PrometheusRules by;
    # kube-prometheus-stack's default is its Helm release: {"release": "<release name>"}.
    labels: dict[str, str] = field(default_factory=dict)


class PrometheusOperatorMonitoring(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: PrometheusOperatorMonitoringArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("items-audit:monitoring:PrometheusOperatorMonitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for service in args.services:
            k8s.apiextensions.CustomResource(
                service.name,
                api_version=API_VERSION,
                kind="PodMonitor",
                metadata=self._metadata(service.name, args),
                spec={
                    "selector": {"matchLabels": pods.labels(service.name)},
                    "podMetricsEndpoints": [
                        {
                            "port": service.port,
                            "path": service.path,
                            # The operator labels targets by namespace and pod; the rules
                            # and the dashboard also select and group by service.
                            "relabelings": [
                                {
                                    "sourceLabels": [
                                        "__meta_kubernetes_pod_label_app_kubernetes_io_name"
                                    ],
                                    "targetLabel": "service",
                                }
                            ],
                        }
                    ],
                },
                opts=child,
            )
        k8s.apiextensions.CustomResource(
            RULES_NAME,
            api_version=API_VERSION,
            kind="PrometheusRule",
            metadata=self._metadata(RULES_NAME, args),
            spec={"groups": args.rule_groups},
            opts=child,
        )
        self.register_outputs({})

    @staticmethod
    def _metadata(name: str, args: PrometheusOperatorMonitoringArgs) -> dict:
        return {
            "name": name,
            "namespace": args.namespace,
            "labels": {**pods.labels(name), **args.labels},
        }
