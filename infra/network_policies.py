"""NetworkPolicies (DESIGN §7): deny all ingress and all egress, then allow
exactly the connections the system makes, each at both ends: the sender's
egress and the receiver's ingress.

Enforced only by a CNI that implements NetworkPolicy (kind's kindnet does
since kind v0.24, egress included; Calico and Cilium do; flannel alone does not)."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import database, grafana, pods, prometheus, retention_job, schema_job

OUTSIDE = None  # a Flow's source: anyone, in or outside the cluster (a published port)
EVERY_ADDRESS = ("0.0.0.0/0", "::/0")
# The cluster DNS (CoreDNS in every common distribution) every pod resolves names with.
KUBE_DNS = {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}, "port": 53}
# The API server, as a pod sees it after the `kubernetes` Service's translation:
# its own address, which no selector names, on 443 or (kind, kubeadm) 6443.
API_SERVER_PORTS = (443, 6443)


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
    """Pods labelled `source` open connections to addresses outside the namespace
    (any address: an external database, the API server) on `port`."""

    source: str
    port: pulumi.Input[int]


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    flows: list[Flow]
    exits: list[Exit]


def system_flows(
    items_port: int,
    audit_port: int,
    in_cluster_database: bool,
    monitoring: bool,
    operator_namespace: str | None = None,
) -> list[Flow]:
    """operator_namespace: where a Prometheus Operator's Prometheus (its pods labelled
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
            # Scrapes: each service's metrics are served on its own port.
            Flow(prometheus.NAME, "items-service", items_port),
            Flow(prometheus.NAME, "audit-service", audit_port),
            # Both UIs are published on node ports for the person running the stack.
            Flow(OUTSIDE, prometheus.NAME, prometheus.PROMETHEUS_PORT),
            Flow(OUTSIDE, grafana.NAME, grafana.GRAFANA_PORT),
            Flow(grafana.NAME, prometheus.NAME, prometheus.PROMETHEUS_PORT),
        ]
    if operator_namespace is not None:
        flows += [
            Flow(prometheus.NAME, "items-service", items_port, operator_namespace),
            Flow(prometheus.NAME, "audit-service", audit_port, operator_namespace),
        ]
    return flows


def system_exits(external_database_port: pulumi.Input[int] | None, monitoring: bool) -> list[Exit]:
    exits = []
    if external_database_port is not None:
        exits += [
            Exit(client, external_database_port)
            for client in ("items-service", "audit-service", schema_job.NAME, retention_job.NAME)
        ]
    if monitoring:
        # Pod discovery watches the API server.
        exits += [Exit(prometheus.NAME, port) for port in API_SERVER_PORTS]
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


def _every_address() -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))
        for cidr in EVERY_ADDRESS
    ]


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
            ] + [
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=_every_address(), ports=[_tcp(exit_.port)]
                )
                for exit_ in args.exits
                if exit_.source == sender
            ]
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
