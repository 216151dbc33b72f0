"""NetworkPolicies (DESIGN §7): deny all ingress, then allow exactly the paths
the system uses. Egress stays open (DNS, an external database, registries).

Enforced only by a CNI that implements NetworkPolicy (kind's kindnet does
since kind v0.24; Calico and Cilium do; flannel alone does not)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import database, grafana, pods, prometheus, schema_job

ANYWHERE = None  # a rule without `from`: any source, in or outside the cluster


@dataclass(frozen=True)
class Ingress:
    to: str  # app.kubernetes.io/name of the receiving pods
    port: int
    sources: tuple[str, ...] | None  # app.kubernetes.io/name of the senders, or ANYWHERE


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    rules: list[Ingress]


def system_rules(
    items_port: int, audit_port: int, in_cluster_database: bool, monitoring: bool
) -> list[Ingress]:
    rules = [
        # Public: users, and Prometheus scraping it.
        Ingress("items-service", items_port, ANYWHERE),
        # Internal: audit events from items; Prometheus scrapes the same port.
        Ingress(
            "audit-service",
            audit_port,
            ("items-service",) + ((prometheus.NAME,) if monitoring else ()),
        ),
    ]
    if in_cluster_database:
        rules.append(
            Ingress(
                database.NAME, database.PORT, ("items-service", "audit-service", schema_job.NAME)
            )
        )
    if monitoring:
        # Both UIs are published on node ports for the person running the stack.
        rules.append(Ingress(prometheus.NAME, prometheus.PROMETHEUS_PORT, ANYWHERE))
        rules.append(Ingress(grafana.NAME, grafana.GRAFANA_PORT, ANYWHERE))
    return rules


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:network:NetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        k8s.networking.v1.NetworkPolicy(
            "default-deny-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="default-deny-ingress",
                namespace=args.namespace,
                labels={"app.kubernetes.io/part-of": pods.PART_OF},
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]
            ),
            opts=child,
        )
        for rule in args.rules:
            peers = None
            if rule.sources is not ANYWHERE:
                peers = [
                    k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"app.kubernetes.io/name": source}
                        )
                    )
                    for source in rule.sources
                ]
            policy_name = f"allow-{rule.to}"
            k8s.networking.v1.NetworkPolicy(
                policy_name,
                metadata=pods.metadata(policy_name, args.namespace),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(rule.to)),
                    policy_types=["Ingress"],
                    ingress=[
                        k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                            from_=peers,
                            ports=[
                                k8s.networking.v1.NetworkPolicyPortArgs(
                                    protocol="TCP", port=rule.port
                                )
                            ],
                        )
                    ],
                ),
                opts=child,
            )
        self.register_outputs({})
