"""Which pod may open a connection to which pod and port, computed from the
NetworkPolicies' selectors and the pods' labels, at both ends (the sender's
egress and the receiver's ingress), is exactly DESIGN §7; and what leaves the
namespace is DNS, the API server for Prometheus (at its own addresses), an
external database for its clients (at the addresses the stack names), and
nothing else."""

import pytest

from infra import mock_runtime
from tests.infra.k8s_objects import containers, pod_templates

OUTSIDE = "outside the namespace"

# DESIGN §7: items from anywhere outside on its port; audit only from items; each
# service's operations port (metrics) from Prometheus only; Postgres only from
# items, audit and the schema Job; Prometheus from its users (node port) and
# Grafana; Grafana from its users.
EXPECTED = {
    ("items-service", 8080): {OUTSIDE},
    ("items-service", 9080): {"prometheus"},
    # The items pod's proxy answers its liveness probe here: the kubelet's, which
    # NetworkPolicies do not apply to; nobody else.
    ("items-service", 8090): set(),
    ("audit-service", 8081): {"items-service"},
    ("audit-service", 9081): {"prometheus"},
    ("postgres", 5432): {"items-service", "audit-service", "postgres-schema", "audit-retention"},
    ("prometheus", 9090): {OUTSIDE, "grafana"},
    ("grafana", 3000): {OUTSIDE},
}
KUBE_DNS = {"kubernetes.io/metadata.name": "kube-system"}, {"k8s-app": "kube-dns"}


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"matchExpressions are not evaluated here: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _port_matches(rule_ports: list, port: int, protocol: str = "TCP") -> bool:
    if not rule_ports:
        return True
    return any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in rule_ports)


def _isolating(policies: list[dict], direction: str, labels: dict) -> list[dict]:
    return [
        p for p in policies if direction in p["policyTypes"] and _selects(p["podSelector"], labels)
    ]


def _labels(objects) -> dict[str, dict]:
    return {
        t["metadata"]["labels"]["app.kubernetes.io/name"]: t["metadata"]["labels"]
        for t in pod_templates(objects).values()
    }


def _egress_allows(policies, source_labels, peer_check, port, protocol="TCP") -> bool:
    """Whether the sender's egress policies let it connect where peer_check says."""
    isolating = _isolating(policies, "Egress", source_labels)
    return not isolating or any(
        _port_matches(rule.get("ports", []), port, protocol)
        and (not rule.get("to") or any(peer_check(peer) for peer in rule["to"]))
        for policy in isolating
        for rule in policy.get("egress", [])
    )


def _same_namespace_pod(labels: dict):
    def check(peer: dict) -> bool:
        if "ipBlock" in peer:
            return False
        assert set(peer) == {"podSelector"}, f"a peer this test cannot evaluate: {peer}"
        return _selects(peer["podSelector"], labels)

    return check


def reachability(objects: list[dict]) -> dict[tuple[str, int], set[str]]:
    labels = _labels(objects)
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    matrix = {}
    for destination, template in (
        (t["metadata"]["labels"]["app.kubernetes.io/name"], t)
        for t in pod_templates(objects).values()
    ):
        isolating = _isolating(policies, "Ingress", labels[destination])
        for container in containers(template):
            for declared in container.get("ports", []):
                port = declared["containerPort"]
                allowed = set()
                for source in {OUTSIDE, *labels}:
                    ingress = not isolating or any(
                        _port_matches(rule.get("ports", []), port)
                        and (
                            not rule.get("from")
                            or source != OUTSIDE
                            and any(
                                _same_namespace_pod(labels[source])(peer) for peer in rule["from"]
                            )
                        )
                        for policy in isolating
                        for rule in policy.get("ingress", [])
                    )
                    egress = source == OUTSIDE or _egress_allows(
                        policies, labels[source], _same_namespace_pod(labels[destination]), port
                    )
                    if ingress and egress:
                        allowed.add(source)
                matrix[(destination, port)] = allowed
    return matrix


def _ip_block(peer: dict) -> bool:
    """Any address outside the cluster's pods (a NetworkPolicy names them by ipBlock)."""
    return "ipBlock" in peer


def _ip_blocks(objects: list[dict], name: str) -> set[tuple[str, int]]:
    """Every (CIDR, port) the pods labelled `name` may open connections to."""
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    labels = _labels(objects)[name]
    return {
        (peer["ipBlock"]["cidr"], port["port"])
        for policy in _isolating(policies, "Egress", labels)
        for rule in policy.get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
        for port in rule["ports"]
    }


def _kube_dns(peer: dict) -> bool:
    return (
        peer.get("namespaceSelector", {}).get("matchLabels") == KUBE_DNS[0]
        and peer.get("podSelector", {}).get("matchLabels") == KUBE_DNS[1]
    )


def test_every_pod_is_isolated_both_ways_by_default(objects):
    defaults = {
        o["metadata"]["name"]: o["spec"]
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"].startswith("default-deny-")
    }
    assert defaults == {
        "default-deny-ingress": {"podSelector": {}, "policyTypes": ["Ingress"]},
        "default-deny-egress": {"podSelector": {}, "policyTypes": ["Egress"]},
    }


def test_the_reachability_matrix_is_the_designed_one(objects):
    assert reachability(objects) == EXPECTED


def test_every_pod_resolves_names_through_the_cluster_dns_only(objects):
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    for name, labels in _labels(objects).items():
        for protocol in ("UDP", "TCP"):
            assert _egress_allows(policies, labels, _kube_dns, 53, protocol), (name, protocol)
        assert not _egress_allows(policies, labels, _ip_block, 53, "UDP"), name


def test_only_prometheus_leaves_the_namespace_and_only_for_the_api_server(objects):
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    for name, labels in _labels(objects).items():
        for port in (443, 6443, 80, 5432):
            expected = name == "prometheus" and port == 6443
            assert _egress_allows(policies, labels, _ip_block, port) is expected, (name, port)
    # The addresses and port of the cluster's `kubernetes` EndpointSlice (the mock's: kind's).
    assert _ip_blocks(objects, "prometheus") == {("172.18.0.2/32", 6443)}


def test_an_external_database_is_reached_by_its_clients_on_its_port_only():
    url = "postgresql://admin:pw@db.example.com:6543/shop?sslmode=verify-full"
    run = mock_runtime.run(
        {"items-audit:database_url": url, "items-audit:database_cidrs": "10.0.12.0/24"},
        secret_keys=("items-audit:database_url",),
    )
    objects = run.kubernetes_objects()
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    for name, labels in _labels(objects).items():
        expected = name in ("items-service", "audit-service", "postgres-schema", "audit-retention")
        assert _egress_allows(policies, labels, _ip_block, 6543) is expected, name
        assert not _egress_allows(policies, labels, _ip_block, 5432), name
        if expected:
            assert _ip_blocks(objects, name) == {("10.0.12.0/24", 6543)}, name


def test_the_schema_job_accepts_no_connections(objects):
    job = next(t for w, t in pod_templates(objects).items() if w.startswith("Job/"))
    assert not any(c.get("ports") for c in containers(job))


@pytest.mark.parametrize("monitoring", ["true", "false"])
def test_without_monitoring_nothing_is_left_open_for_it(monitoring):
    objects = mock_runtime.run({"items-audit:monitoring": monitoring}).kubernetes_objects()
    matrix = reachability(objects)
    if monitoring == "false":
        assert matrix == {
            ("items-service", 8080): {OUTSIDE},
            # Probed by the kubelet only.
            ("items-service", 9080): set(),
            ("items-service", 8090): set(),
            ("audit-service", 8081): {"items-service"},
            ("audit-service", 9081): set(),
            ("postgres", 5432): {
                "items-service",
                "audit-service",
                "postgres-schema",
                "audit-retention",
            },
        }
    else:
        assert matrix == EXPECTED
