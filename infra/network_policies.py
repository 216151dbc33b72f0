"""NetworkPolicies (DESIGN §7): deny all ingress and all egress, then allow
exactly the connections the system makes, each at both ends: the sender's
egress and the receiver's ingress.

Enforced only by a CNI that implements NetworkPolicy (kind's kindnet does
since kind v0.24, egress included; Calico and Cilium do; flannel alone does not)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import database, grafana, pods, prometheus, retention_job, schema_job
from infra.api_server import ApiServer

OUTSIDE = None  # a Flow's source: anyone, in or outside the cluster (a published port)
# The cluster DNS (CoreDNS in every common distribution) every pod resolves names with.
KUBE_DNS = {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}, "port": 53}


@dataclass(frozen=True)
class Flow:
    """Pods labelled `source` open connections to the pods labelled `to`, on `port`."""

    source: str | None  # app.kubernetes.io/name of the senders, or OUTSIDE
    to: str  # app.kubernetes.io/name of the receivers
    port: int
    # The senders' namespace when it is not the stack's: only the receiving end is ours.
    source_namespace: str | None = None


@dataclass(frozen=True)
class Exit:
    """Pods labelled `source` open connections to the addresses `cidrs` outside the
    namespace (an external database, the API server), on `ports`. Never every
    address: a pod that is taken over reaches these servers and nothing else."""

    source: str
    cidrs: pulumi.Input[list[str]]
    ports: pulumi.Input[list[int]]


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    flows: list[Flow]
    exits: list[Exit]


def system_flows(
    items_port: int,
    audit_port: int,
    items_ops_port: int,
    audit_ops_port: int,
    in_cluster_database: bool,
    monitoring: bool,
    monitoring_published: bool,
    operator_namespace: str | None = None,
) -> list[Flow]:
    """monitoring_published: Prometheus and Grafana on node ports, open to anyone.
    operator_namespace: where a Prometheus Operator's Prometheus (its pods labelled
    app.kubernetes.io/name=prometheus) scrapes the services from, if one does."""
    database_clients = ("items-service", "audit-service", schema_job.NAME, retention_job.NAME)
    flows = [
        # Public: users, from anywhere.
        Flow(OUTSIDE, "items-service", items_port),
        # Internal: audit events from items.
        Flow("items-service", "audit-service", audit_port),
    ]
    if in_cluster_database:
        flows += [Flow(client, database.NAME, database.PORT) for client in database_clients]
    if monitoring:
        flows += [
            # Scrapes: each service's metrics are served on its operations port.
            Flow(prometheus.NAME, "items-service", items_ops_port),
            Flow(prometheus.NAME, "audit-service", audit_ops_port),
            Flow(grafana.NAME, prometheus.NAME, prometheus.PROMETHEUS_PORT),
        ]
    if monitoring and monitoring_published:
        # Both UIs on node ports, for the person running the stack on their own
        # machine. Otherwise nobody outside the namespace: `kubectl port-forward`
        # reaches a pod from inside its network namespace.
        flows += [
            Flow(OUTSIDE, prometheus.NAME, prometheus.PROMETHEUS_PORT),
            Flow(OUTSIDE, grafana.NAME, grafana.GRAFANA_PORT),
        ]
    if operator_namespace is not None:
        flows += [
            Flow(prometheus.NAME, "items-service", items_ops_port, operator_namespace),
            Flow(prometheus.NAME, "audit-service", audit_ops_port, operator_namespace),
        ]
    return flows


@dataclass(frozen=True)
class ExternalDatabaseExit:
    cidrs: list[str]  # the database_cidrs setting
    port: pulumi.Input[int]  # from database_url


def system_exits(
    external_database: ExternalDatabaseExit | None, api_server: ApiServer | None
) -> list[Exit]:
    """api_server: where Prometheus' pod discovery watches the API server (None:
    no Prometheus)."""
    exits = []
    if external_database is not None:
        ports = pulumi.Output.from_input(external_database.port).apply(lambda port: [port])
        exits += [
            Exit(client, external_database.cidrs, ports)
            for client in ("items-service", "audit-service", schema_job.NAME, retention_job.NAME)
        ]
    if api_server is not None:
        exits.append(Exit(prometheus.NAME, api_server.cidrs, api_server.ports))
    return exits


def _tcp(port: int) -> k8s.networking.v1.NetworkPolicyPortArgs:
    return k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)


def _pods(name: str, namespace: str | None = None) -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return k8s.networking.v1.NetworkPolicyPeerArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": name}),
        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": namespace}
        )
        if namespace
        else None,
    )


def _exit_rule(exit_: Exit) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    return k8s.networking.v1.NetworkPolicyEgressRuleArgs(
        to=pulumi.Output.from_input(exit_.cidrs).apply(
            lambda cidrs: [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)
                )
                for cidr in cidrs
            ]
        ),
        ports=pulumi.Output.from_input(exit_.ports).apply(
            lambda ports: [_tcp(port) for port in ports]
        ),
    )


class NetworkPolicies(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:network:NetworkPolicies", name, None, opts)
        self._namespace = args.namespace
        self._child = pulumi.ResourceOptions(parent=self)
        every_pod = k8s.meta.v1.LabelSelectorArgs()
        self._policy("default-deny-ingress", every_pod, policy_types=["Ingress"])
        self._policy("default-deny-egress", every_pod, policy_types=["Egress"])
        self._policy(
            "allow-dns-egress",
            every_pod,
            policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[
                        k8s.networking.v1.NetworkPolicyPeerArgs(
                            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                match_labels={"kubernetes.io/metadata.name": KUBE_DNS["namespace"]}
                            ),
                            pod_selector=k8s.meta.v1.LabelSelectorArgs(
                                match_labels=KUBE_DNS["labels"]
                            ),
                        )
                    ],
                    ports=[
                        k8s.networking.v1.NetworkPolicyPortArgs(protocol=protocol, port=53)
                        for protocol in ("UDP", "TCP")
                    ],
                )
            ],
        )
        for receiver in _unique(flow.to for flow in args.flows):
            flows = [flow for flow in args.flows if flow.to == receiver]
            self._policy(
                f"allow-{receiver}",
                k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(receiver)),
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        # No `from`: anyone, when anyone outside may connect.
                        from_=None
                        if any(flow.source is OUTSIDE for flow in flows if flow.port == port)
                        else [
                            _pods(flow.source, flow.source_namespace)
                            for flow in flows
                            if flow.port == port
                        ],
                        ports=[_tcp(port)],
                    )
                    for port in _unique(flow.port for flow in flows)
                ],
            )
        senders = _unique(
            [
                flow.source
                for flow in args.flows
                if flow.source is not OUTSIDE and flow.source_namespace is None
            ]
            + [exit_.source for exit_ in args.exits]
        )
        for sender in senders:
            rules = [
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[_pods(flow.to)], ports=[_tcp(flow.port)]
                )
                for flow in args.flows
                if flow.source == sender and flow.source_namespace is None
            ] + [_exit_rule(exit_) for exit_ in args.exits if exit_.source == sender]
            self._policy(
                f"allow-{sender}-egress",
                k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(sender)),
                policy_types=["Egress"],
                egress=rules,
            )
        self.register_outputs({})

    def _policy(self, name: str, selector, policy_types: list[str], **rules):
        k8s.networking.v1.NetworkPolicy(
            name,
            metadata=pods.metadata(name, self._namespace)
            if name.startswith("allow-")
            else k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=self._namespace,
                labels={"app.kubernetes.io/part-of": pods.PART_OF},
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=selector, policy_types=policy_types, **rules
            ),
            opts=self._child,
        )


def _unique(values) -> list:
    return list(dict.fromkeys(values))
