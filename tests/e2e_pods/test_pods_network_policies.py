"""The NetworkPolicies are enforced on a real node (kube-router), both ways, exactly as the
rendered policies promise. Every stack pod, a throwaway pod in the stack's namespace
without the allowed labels and one in another namespace each try every port of every
stack pod, the cluster DNS and the API server; the expected outcome of each connection
is computed from `python -m infra.render` of the stack's own settings. The whole matrix,
observed beside expected, is printed to the terminal (also without -s) and recorded in
the test's report (`record_property("network_matrix", ...)`, in --junitxml)."""

import json
import subprocess
import sys

from infra import api_server, mock_runtime
from tests.e2e.conftest import rendered, wait_until_healthy
from tests.e2e.stack import NAMESPACE
from tests.e2e_pods import throwaway
from tests.e2e_pods.network_matrix import (
    CONNECT_TIMEOUT,
    TCP,
    UDP,
    Check,
    Endpoint,
    expected,
    script_arguments,
)
from tests.e2e_pods.prometheus_api import Prometheus, targets_up

APP = "app.kubernetes.io/name"
ELSEWHERE = "e2e-pods-elsewhere"
MOCK_API_SERVER_SLICE = mock_runtime.CLUSTER_OBJECTS[
    ("kubernetes:discovery.k8s.io/v1:EndpointSlice", api_server.SLICE_ID)
]
DNS_NAME = f"audit-service.{NAMESPACE}.svc.cluster.local"


def rendered_policies(stack, real_slice: dict) -> list[dict]:
    """The render's NetworkPolicies, with the API server where this cluster has it: the
    render reads the `kubernetes` EndpointSlice from its mock, a deploy from the cluster."""
    mock = api_server.from_slice(MOCK_API_SERVER_SLICE["endpoints"], MOCK_API_SERVER_SLICE["ports"])
    real = api_server.from_slice(real_slice["endpoints"], real_slice["ports"])

    def peers(cidrs):
        return [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]

    def ports(numbers):
        return [{"port": port, "protocol": TCP} for port in numbers]

    policies = [
        item
        for item in rendered(stack.clone, stack.clone / f"Pulumi.{stack.name}.yaml")
        if item["kind"] == "NetworkPolicy"
    ]
    for policy in policies:
        for rule in policy["spec"].get("egress") or []:
            if rule.get("to") == peers(mock[0]) and rule.get("ports") == ports(mock[1]):
                rule["to"], rule["ports"] = peers(real[0]), ports(real[1])
    return policies


def pod_endpoint(pod: dict, namespace_labels: dict, name: str) -> Endpoint:
    return Endpoint(
        name=name,
        address=pod["status"]["podIP"],
        namespace=pod["metadata"]["namespace"],
        labels=pod["metadata"].get("labels") or {},
        namespace_labels=namespace_labels,
        named_ports={
            port["name"]: port["containerPort"]
            for container in pod["spec"]["containers"]
            for port in container.get("ports") or []
            if port.get("name")
        },
    )


def node_address(stack) -> str:
    [node] = stack.kubectl_json("get", "nodes")["items"]
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


def namespace_labels(stack, name: str) -> dict:
    return stack.kubectl_json("get", "namespace", name)["metadata"].get("labels") or {}


def stack_pods(stack) -> dict[str, dict]:
    """One running pod per workload of the stack, by its app name."""
    found = {}
    for pod in stack.kubectl_json("get", "pods", "--namespace", NAMESPACE)["items"]:
        labels = pod["metadata"].get("labels") or {}
        if pod["status"].get("phase") == "Running" and APP in labels:
            found.setdefault(labels[APP], pod)
    return dict(sorted(found.items()))


def run_checks(stack, pod: tuple[str, str, str] | None, checks: list[Check]) -> list[dict]:
    """Each check's outcome, tried from inside a pod's container (namespace, pod,
    container: kubectl exec), or from the node (None)."""
    arguments = script_arguments(checks)
    if pod is None:
        done = subprocess.run(
            [sys.executable, *arguments[1:]], capture_output=True, text=True, timeout=60, check=True
        )
        return json.loads(done.stdout)
    namespace, name, container = pod
    done = stack.kubectl(
        "exec",
        "--namespace",
        namespace,
        name,
        "--container",
        container,
        "--",
        *arguments,
        timeout=60,
    ).check()
    return json.loads(done.stdout)


def matrix_text(rows: list[dict]) -> str:
    width = max(len(row["source"]) for row in rows) + 2
    target_width = max(len(row["destination"]) for row in rows) + 2
    lines = [
        "NetworkPolicy matrix on the real node (observed | expected from the rendered policies):",
        f"{'source':<{width}}{'destination:port/protocol':<{target_width}}{'observed':<28}expected",
    ]
    for row in rows:
        observed = (
            "allowed" if row["outcome"] == "ok" else f"blocked ({row['outcome']})"
        ) + f" {row['seconds']:.2f}s"
        wanted = "allowed" if row["allowed"] else f"blocked by {row['reason']}"
        mark = "" if row["as_expected"] else "   <-- NOT AS EXPECTED: " + row["detail"]
        lines.append(
            f"{row['source']:<{width}}{row['destination']:<{target_width}}{observed:<28}"
            f"{wanted}{mark}"
        )
    return "\n".join(lines)


def test_network_policies_allow_exactly_the_rendered_connections_both_ways(
    deployed, capsys, record_property
):
    stack = deployed
    real_slice = stack.kubectl_json("get", "endpointslice", "--namespace", "default", "kubernetes")
    policies = rendered_policies(stack, real_slice)

    # What the cluster enforces is what the render promised, and nothing else applies:
    # the DNS pods' namespace (and the throwaway one) has no policy of its own.
    deployed_policies = stack.kubectl_json("get", "networkpolicies", "--namespace", NAMESPACE)
    assert {p["metadata"]["name"]: p["spec"] for p in deployed_policies["items"]} == {
        p["metadata"]["name"]: p["spec"] for p in policies
    }
    assert stack.kubectl_json("get", "networkpolicies", "--namespace", "kube-system")["items"] == []

    stack_labels = namespace_labels(stack, NAMESPACE)
    pods = stack_pods(stack)
    assert {"items-service", "audit-service", "postgres", "prometheus", "grafana"} <= set(pods)
    [dns_pod] = stack.kubectl_json(
        "get", "pods", "--namespace", "kube-system", "--selector", "k8s-app=kube-dns"
    )["items"][:1]
    dns = pod_endpoint(dns_pod, namespace_labels(stack, "kube-system"), "cluster DNS")
    [address] = real_slice["endpoints"][0]["addresses"][:1]
    [api_port] = [port["port"] for port in real_slice["ports"]][:1]
    api = Endpoint(name="API server", address=address)

    with (
        throwaway.namespace(stack, ELSEWHERE),
        throwaway.pods(
            stack,
            [
                throwaway.probe_pod("e2e-pods-unlabelled", NAMESPACE),
                throwaway.probe_pod("e2e-pods-elsewhere", ELSEWHERE),
            ],
        ) as (unlabelled_pod, elsewhere_pod),
    ):
        targets = {app: pod_endpoint(pod, stack_labels, app) for app, pod in pods.items()}
        checks = [
            Check(endpoint, port)
            for endpoint in targets.values()
            for port in sorted(set(endpoint.named_ports.values()))
        ]
        checks += [Check(dns, 53), Check(dns, 53, UDP, DNS_NAME), Check(api, api_port)]
        # (row label, the source as the policies see it, where its connections start)
        sources = [
            (
                f"{app} ({pod['metadata']['name']})",
                targets[app],
                (NAMESPACE, pod["metadata"]["name"], pod["spec"]["containers"][0]["name"]),
            )
            for app, pod in pods.items()
        ]
        for pod, name in ((unlabelled_pod, "unlabelled probe"), (elsewhere_pod, "probe elsewhere")):
            namespace = pod["metadata"]["namespace"]
            sources.append(
                (
                    f"{name} (namespace {namespace})",
                    pod_endpoint(pod, namespace_labels(stack, namespace), name),
                    (namespace, pod["metadata"]["name"], "probe"),
                )
            )
        sources.append(("the node", Endpoint(name="node", address=node_address(stack)), None))
        rows = []
        for label, source, where in sources:
            own = [
                check
                for check in checks
                if check.destination != source
                # Only the stack's pods, from the node: the control that each port listens.
                and (where is not None or check.destination.namespace == NAMESPACE)
            ]
            for check, result in zip(own, run_checks(stack, where, own), strict=True):
                allowed, reason = expected(
                    policies, source, check.destination, check.port, check.protocol
                )
                destination = f"{check.destination.name}:{check.port}/{check.protocol}"
                if check.protocol == UDP:
                    destination = f"DNS query {DNS_NAME.split('.')[0]}… {destination}"
                blocked_in_time = (
                    result["outcome"] in ("refused", "timeout")
                    and result["seconds"] <= CONNECT_TIMEOUT + 1
                )
                rows.append(
                    {
                        "source": label,
                        "destination": destination,
                        "target": f"{check.destination.name}:{check.port}",
                        **result,
                        "allowed": allowed,
                        "reason": reason,
                        "as_expected": result["outcome"] == "ok" if allowed else blocked_in_time,
                    }
                )
        text = matrix_text(rows)
        record_property("network_matrix", text)
        with capsys.disabled():
            print("\n" + text, flush=True)

        # Scrapes cross the policies too: every opted-in pod is a target, scraped and up.
        targets_up(Prometheus(stack.output("prometheus_url")), stack)

    wrong = [row for row in rows if not row["as_expected"]]
    assert not wrong, "connections not as the rendered policies promise:\n" + matrix_text(wrong)

    # The promises by name, as observed (the matrix holds them all; these say which).
    def reached(source_prefix: str) -> set[str]:
        return {
            row["target"]
            for row in rows
            if row["source"].startswith(source_prefix) and row["outcome"] == "ok"
        }

    assert "audit-service:8081" in reached("items-service")
    assert reached("audit-service") == {"postgres:5432", "cluster DNS:53"}
    for stranger in ("unlabelled probe", "probe elsewhere"):
        assert not reached(stranger) & {"audit-service:8081", "audit-service:9081", "postgres:5432"}
    wait_until_healthy(stack)
