"""Which pod may open a connection to which pod and port, computed from the
NetworkPolicies' selectors and the pods' labels, is exactly DESIGN §7."""

from k8s_objects import containers, pod_templates

OUTSIDE = "outside the cluster"
EVERYONE = {
    OUTSIDE,
    "items-service",
    "audit-service",
    "postgres",
    "postgres-schema",
    "prometheus",
    "grafana",
}

# DESIGN §7: default deny ingress; items from anywhere on its port; audit only
# from items (and Prometheus, which scrapes the same port); Postgres only from
# items, audit and the schema Job; Prometheus and Grafana from their users
# (published on node ports) and Grafana -> Prometheus.
EXPECTED = {
    ("items-service", 8080): EVERYONE,
    ("audit-service", 8081): {"items-service", "prometheus"},
    ("postgres", 5432): {"items-service", "audit-service", "postgres-schema"},
    ("prometheus", 9090): EVERYONE,
    ("grafana", 3000): EVERYONE,
}


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, f"matchExpressions are not evaluated here: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _peer_admits(peer: dict, source: str, labels: dict) -> bool:
    assert set(peer) <= {"podSelector"}, (
        f"only same-namespace pod selectors are evaluated here: {peer}"
    )
    return source != OUTSIDE and _selects(peer["podSelector"], labels)


def _port_matches(rule_ports: list, port: dict) -> bool:
    if not rule_ports:
        return True
    return any(
        p.get("port") in (port["containerPort"], port.get("name"))
        and p.get("protocol", "TCP") == "TCP"
        for p in rule_ports
    )


def reachability(objects: list[dict]) -> dict[tuple[str, int], set[str]]:
    pods = {
        t["metadata"]["labels"]["app.kubernetes.io/name"]: t
        for t in pod_templates(objects).values()
    }
    policies = [o["spec"] for o in objects if o["kind"] == "NetworkPolicy"]
    matrix = {}
    for destination, template in pods.items():
        labels = template["metadata"]["labels"]
        isolating = [
            p
            for p in policies
            if "Ingress" in p["policyTypes"] and _selects(p["podSelector"], labels)
        ]
        for container in containers(template):
            for port in container.get("ports", []):
                allowed = set()
                for source in EVERYONE:
                    source_labels = pods[source]["metadata"]["labels"] if source != OUTSIDE else {}
                    if not isolating or any(
                        _port_matches(rule.get("ports", []), port)
                        and (
                            not rule.get("from")
                            or any(
                                _peer_admits(peer, source, source_labels) for peer in rule["from"]
                            )
                        )
                        for policy in isolating
                        for rule in policy.get("ingress", [])
                    ):
                        allowed.add(source)
                matrix[(destination, port["containerPort"])] = allowed
    return matrix


def test_every_pod_is_isolated_for_ingress_by_default(objects):
    default = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "default-deny-ingress"
    ]
    assert [p["spec"] for p in default] == [{"podSelector": {}, "policyTypes": ["Ingress"]}]


def test_the_reachability_matrix_is_the_designed_one(objects):
    assert reachability(objects) == EXPECTED


def test_the_schema_job_accepts_no_connections(objects):
    job = next(t for w, t in pod_templates(objects).items() if w.startswith("Job/"))
    assert not any(c.get("ports") for c in containers(job))
