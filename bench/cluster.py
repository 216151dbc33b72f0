"""Through the cluster path (a benchmark, not a test): items-service as a user reaches it
on the real-node cluster, `pulumi stack output items_url` (a NodePort Service, then the
pod's nginx, gunicorn, PostgreSQL, and the audit trail behind it), against the bare Flask
ceiling in pods on the same node behind a NodePort Service reached the same way, loaded
in the same run.

The ceiling is bench/ceiling/app.py: the three routes answering from memory with the
bodies items-service answers, no database, no audit, no proxy; its image (Dockerfile
there) has items-service's locked Flask and gunicorn and runs with its gunicorn settings,
in as many pods as items-service has, each with the resources of items-service's
gunicorn container. It lives in a namespace of its own, removed at the end.

Prints, per route, both targets' throughput and latency, the ratio, the requests wrk
counted, the requests items-service answered by its own counter, and the rows in
audit_logs (psql in the postgres pod, once the outbox has drained): one per answered
request. Figures, not pass/fail. Writes bench/results/cluster.json.

`scripts/e2e-pods --bench` builds and starts the cluster, runs this, and stops it; with
the cluster already up (e2e/node-up): `.venv/bin/python -m bench.cluster`. The stack is
deployed as the real-node tier deploys it (tests/e2e_pods: the stack `e2e-pods` in the
user's backend, scripts/up, scripts/down and `pulumi stack rm` at the end), with one
change: the proxy's per-client rate limit is left out (lift_per_client_rate_limit)."""

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench import wrk
from bench.audit_check import AUDITED_ROUTES
from bench.stack import BENCH, REPOSITORY
from tests.e2e.conftest import (
    StackNotOurs,
    UserBackend,
    build_and_push,
    running_registry,
    tier_stack,
    wait_until_healthy,
)
from tests.e2e.stack import (
    NAMESPACE,
    E2EStack,
    backend_directory,
    copy_of_the_clone,
    tools_bin,
)
from tests.e2e_pods.conftest import pods_cluster_settings, pods_tier
from tests.e2e_pods.node import Node

ROUTES = {
    "POST /items": "post_items",
    "GET /items/{id}": "get_item",
    "GET /items?limit=100": "list_items",
}
ITEMS, CEILING = "items_url", "bare Flask"
CEILING_NAMESPACE = "items-audit-bench"
CEILING_NAME = "flask-ceiling"
CEILING_PORT = 8090  # bench/ceiling/gunicorn.conf.py
MANAGED_BY = {"app.kubernetes.io/managed-by": "bench.cluster"}
# Writable under the read-only root: gunicorn's metrics directory (service-common) is a
# temporary one.
POD_TMP = "/tmp"  # noqa: S108 (an emptyDir of the pod's own)
ITEMS_SELECTOR = "app.kubernetes.io/name=items-service"
ITEMS_OPS_PORT = 9080  # infra/program.py
WARM_UP_SECONDS = 3
DRAIN_TIMEOUT_SECONDS = 120
READY_TIMEOUT_SECONDS = 180
RESULTS = BENCH / "results" / "cluster.json"
PROXY_CONFIG = "items-proxy/nginx.conf"
PROXY_CONTAINER = "items-service-proxy"
RATE_LIMIT = re.compile(r"^\s*limit_req zone=rate_per_client\b[^;]*;\n", re.MULTILINE)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--seconds", type=int, default=5, help="length of each load run (default 5)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="runs of each target per route, interleaved (default 2)",
    )
    parser.add_argument("--connections", type=int, default=8, help="wrk's connections (default 8)")
    return parser.parse_args()


def lift_per_client_rate_limit(clone: Path) -> None:
    """All the load comes from one client address: kube-proxy masquerades what reaches a
    node port from the node itself, so items-proxy sees the node's address, and its
    limit of 50 requests a second per client (and pod) would answer nearly all of it
    429. The benchmark deploys its copy of the clone without that one directive; the
    rest of the path, the per-client limit of requests in progress included, is the
    user's."""
    path = clone / PROXY_CONFIG
    text, found = RATE_LIMIT.subn("", path.read_text())
    if found != 1:
        raise RuntimeError(f"{PROXY_CONFIG}: no single per-client limit_req directive to lift")
    path.write_text(text)


def ceiling_build_context(clone: Path, directory: Path) -> Path:
    """What the ceiling's Dockerfile copies, from the clone, in a context of its own."""
    for name in ("bench/ceiling", "service-common"):
        shutil.copytree(
            clone / name,
            directory / name,
            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
        )
    (directory / "items-service").mkdir()
    shutil.copy(clone / "items-service" / "requirements.lock", directory / "items-service")
    return directory


def ceiling_manifests(image: str, items: dict) -> list[dict]:
    """The ceiling's namespace, Deployment and NodePort Service: as many pods as the
    items-service Deployment has, each container with the resources and worker count of
    items-service's gunicorn container, under the restricted pod security standard."""
    gunicorn = next(
        c for c in items["spec"]["template"]["spec"]["containers"] if c["name"] == "items-service"
    )
    workers = next(e["value"] for e in gunicorn["env"] if e["name"] == "WEB_CONCURRENCY")
    labels = {"app.kubernetes.io/name": CEILING_NAME}
    metadata = {"name": CEILING_NAME, "namespace": CEILING_NAMESPACE, "labels": MANAGED_BY}
    health = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": CEILING_NAMESPACE,
                "labels": {**MANAGED_BY, "pod-security.kubernetes.io/enforce": "restricted"},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
            "spec": {
                "replicas": items["spec"]["replicas"],
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                        "securityContext": {
                            "runAsNonRoot": True,
                            "runAsUser": 10001,
                            "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": CEILING_NAME,
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "env": [{"name": "WEB_CONCURRENCY", "value": workers}],
                                "ports": [{"name": "http", "containerPort": CEILING_PORT}],
                                "resources": {
                                    part: {
                                        key: gunicorn["resources"][part][key]
                                        for key in ("cpu", "memory")
                                    }
                                    for part in ("requests", "limits")
                                },
                                "readinessProbe": health,
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "volumeMounts": [{"name": "tmp", "mountPath": POD_TMP}],
                            }
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "type": "NodePort",
                "selector": labels,
                "ports": [{"name": "http", "port": CEILING_PORT, "targetPort": "http"}],
            },
        },
    ]


def remove_ceiling(stack: E2EStack) -> None:
    stack.kubectl(
        "delete", "namespace", CEILING_NAMESPACE, "--ignore-not-found", "--wait", timeout=300
    ).check()


@contextlib.contextmanager
def ceiling_deployed(stack: E2EStack, image: str, items_url: str):
    """The ceiling's pods Ready behind their NodePort Service; yields its URL, on the host
    items_url names. Its namespace goes at the end, whatever happens; one of that name
    that this benchmark did not make is left alone, and the benchmark stops."""
    existing = stack.kubectl_json("get", "namespace", CEILING_NAMESPACE, "--ignore-not-found")
    if existing:
        if not MANAGED_BY.items() <= existing["metadata"].get("labels", {}).items():
            sys.exit(f"the namespace {CEILING_NAMESPACE} exists and is not the benchmark's")
        remove_ceiling(stack)  # an earlier run's, killed before its end
    items = stack.kubectl_json("get", "deployment", "items-service", "--namespace", NAMESPACE)
    manifests = ceiling_manifests(image, items)
    try:
        stack.kubectl(
            "apply",
            "--filename=-",
            input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": manifests}),
        ).check()
        stack.kubectl(
            "rollout",
            "status",
            f"deployment/{CEILING_NAME}",
            "--namespace",
            CEILING_NAMESPACE,
            f"--timeout={READY_TIMEOUT_SECONDS}s",
            timeout=READY_TIMEOUT_SECONDS + 30,
        ).check()
        service = stack.kubectl_json(
            "get", "service", CEILING_NAME, "--namespace", CEILING_NAMESPACE
        )
        url = f"http://{urlsplit(items_url).hostname}:{service['spec']['ports'][0]['nodePort']}"
        wait_until_answering(url)
        yield url
    finally:
        remove_ceiling(stack)


def wait_until_answering(url: str) -> None:
    """Until kube-proxy has the node port's rules: /healthz answers 200."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/healthz did not answer within 60 s")
        time.sleep(0.5)


class AuditTrail:
    """What items-service answered and audited, read from the cluster: its own request
    counter (every pod's /metrics, read in the pod) and the audit rows (psql in the
    postgres pod)."""

    def __init__(self, stack: E2EStack):
        self.stack = stack
        self.node = Node(stack)

    def outbox_drained(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while self.node.psql("SELECT count(*) FROM audit_outbox") != [["0"]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the outbox did not drain within {DRAIN_TIMEOUT_SECONDS}s")
            time.sleep(0.5)

    def last_row(self) -> int:
        return int(self.node.psql("SELECT coalesce(max(id), 0) FROM audit_logs")[0][0])

    def rows_after(self, row: int) -> dict[str, int]:
        count, distinct = self.node.psql(
            "SELECT count(*), count(DISTINCT request_id) FROM audit_logs"
            " WHERE id > :'row' AND service = 'items-service'",
            row=str(row),
        )[0]
        return {"audit_rows": int(count), "distinct_request_ids": int(distinct)}

    def answered(self) -> dict[str, int]:
        """Requests to the audited routes that items-service's pods answered, in all and
        with a 2xx status, since they started."""
        totals = {"answered": 0, "answered_2xx": 0}
        pods = self.stack.kubectl_json(
            "get", "pods", "--namespace", NAMESPACE, "-l", ITEMS_SELECTOR
        )
        for pod in pods["items"]:
            text = (
                self.stack.kubectl(
                    "exec",
                    "--namespace",
                    NAMESPACE,
                    pod["metadata"]["name"],
                    "--container",
                    "items-service",
                    "--",
                    "python",
                    "-c",
                    "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                    f"'http://127.0.0.1:{ITEMS_OPS_PORT}/metrics', timeout=10).read().decode())",
                )
                .check()
                .stdout
            )
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if (
                        sample.name == "http_request_duration_seconds_count"
                        and sample.labels["route"] in AUDITED_ROUTES
                    ):
                        totals["answered"] += int(sample.value)
                        if sample.labels["status"].startswith("2"):
                            totals["answered_2xx"] += int(sample.value)
        return totals

    def ids(self) -> dict[str, int]:
        first, last = self.node.psql("SELECT min(id), max(id) FROM items")[0]
        return {"FIRST_ID": int(first), "LAST_ID": int(last)}


def load_averages() -> tuple[float, ...]:
    return tuple(round(average, 1) for average in os.getloadavg())


def client_addresses(stack: E2EStack) -> list[str]:
    """The client addresses items-proxy logged for its last requests, in every pod."""
    addresses = set()
    pods = stack.kubectl_json("get", "pods", "--namespace", NAMESPACE, "-l", ITEMS_SELECTOR)
    for pod in pods["items"]:
        logs = stack.kubectl(
            "logs",
            "--namespace",
            NAMESPACE,
            pod["metadata"]["name"],
            "--container",
            PROXY_CONTAINER,
            "--tail=500",
        ).check()
        for line in logs.stdout.splitlines():
            if line.startswith("{") and '"logger": "nginx.access"' in line:
                addresses.add(json.loads(line)["remote_addr"])
    return sorted(addresses)


def measure(
    trail: AuditTrail, urls: dict[str, str], seconds: int, rounds: int, connections: int
) -> list[dict]:
    """Per route, each target loaded `rounds` times, interleaved, the order reversed
    every other round, so that what else the machine runs falls on both alike; after
    each items run, the outbox drained and the audit rows and answered requests of
    that run counted."""
    for url in urls.values():  # warm-up: connections, pools, prepared statements
        wrk.run(url, "post_items", connections, WARM_UP_SECONDS)
    trail.outbox_drained()
    results = []
    for label, scenario in ROUTES.items():
        values = None if label == "POST /items" else trail.ids()
        runs: dict[str, list[dict]] = {name: [] for name in urls}
        for round_number in range(rounds):
            order = list(urls) if round_number % 2 == 0 else list(urls)[::-1]
            for name in order:
                if name == ITEMS:
                    row, answered = trail.last_row(), trail.answered()
                result = wrk.run(urls[name], scenario, connections, seconds, values).as_dict()
                if name == ITEMS:
                    trail.outbox_drained()
                    now_answered = trail.answered()
                    result |= trail.rows_after(row)
                    result |= {key: now_answered[key] - answered[key] for key in answered}
                runs[name].append(result)
        figures = {name: combined(target_runs) for name, target_runs in runs.items()}
        results.append({"label": label, "connections": connections, "targets": figures})
        print_route(label, figures)
    return results


def combined(runs: list[dict]) -> dict:
    """A target's rounds as one figure: throughput over all of them, the mean of their
    percentiles, counts summed."""
    requests_sent = sum(run["requests"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    counts = ("answered", "answered_2xx", "audit_rows", "distinct_request_ids")
    return {
        "rounds": len(runs),
        "seconds": round(seconds, 2),
        "requests": requests_sent,
        "non_2xx": sum(run["errors"]["status"] for run in runs),
        "socket_errors": sum(
            run["errors"][kind] for run in runs for kind in ("connect", "read", "write", "timeout")
        ),
        "requests_per_second": round(requests_sent / seconds, 1),
        "p50_ms": round(statistics.mean(run["p50_ms"] for run in runs), 2),
        "p99_ms": round(statistics.mean(run["p99_ms"] for run in runs), 2),
        **{key: sum(run[key] for run in runs) for key in counts if key in runs[0]},
    }


def print_route(label: str, figures: dict[str, dict]) -> None:
    for name, target in figures.items():
        print(
            f"  {label:<22} {name:<10} {target['requests_per_second']:>8.1f} req/s"
            f"  p50 {target['p50_ms']:6.1f}  p99 {target['p99_ms']:6.1f} ms"
            f"  {target['requests']:>6} requests, {target['non_2xx']} non-2xx,"
            f" {target['socket_errors']} socket errors",
            flush=True,
        )


def print_summary(report: dict) -> None:
    print(
        f"\nitems_url ({report['items_url']}) against the bare Flask ceiling"
        f" ({report['ceiling_url']}), same node, same run; {report['connections']} connections,"
        f" {report['rounds']} rounds of {report['seconds_per_run']} s per target and route:"
        f"\n  {'route':<22} {'items req/s':>11} {'Flask req/s':>11} {'ratio':>6}"
        f" {'items p50/p99 ms':>17} {'Flask p50/p99 ms':>17} {'wrk requests':>13}"
        f" {'answered (2xx)':>15} {'audit rows':>10}"
    )
    for route in report["routes"]:
        items, ceiling = route["targets"][ITEMS], route["targets"][CEILING]
        ratio = items["requests_per_second"] / ceiling["requests_per_second"]
        print(
            f"  {route['label']:<22} {items['requests_per_second']:>11.1f}"
            f" {ceiling['requests_per_second']:>11.1f} {ratio:>6.2f}"
            f" {items['p50_ms']:>8.1f}/{items['p99_ms']:<8.1f}"
            f" {ceiling['p50_ms']:>8.1f}/{ceiling['p99_ms']:<8.1f}"
            f" {items['requests']:>6}/{ceiling['requests']:<6}"
            f" {items['answered']:>7} ({items['answered_2xx']})"
            f" {items['audit_rows']:>10}"
        )
    print(
        "Client addresses items-proxy logged:"
        f" {', '.join(report['client_addresses_seen_by_the_proxy'])}; its per-client rate limit"
        " was lifted in the benchmark's deployment (lift_per_client_rate_limit)"
    )
    print(
        f"Load averages before the load {report['load_average_before']},"
        f" after it {report['load_average_after']} (wrk, the node and everything else the"
        f" machine runs share its {os.cpu_count()} cores)"
    )
    every = all(
        route["targets"][ITEMS]["audit_rows"]
        == route["targets"][ITEMS]["distinct_request_ids"]
        == route["targets"][ITEMS]["answered"]
        for route in report["routes"]
    )
    print(
        "Audit rows, once the outbox drained, against the requests items-service answered"
        f" (its own counter; wrk stops counting at the deadline): "
        f"{'one row per request, each its own request id' if every else 'NOT one per request'}"
    )


def main() -> None:
    options = arguments()
    if shutil.which("wrk") is None:
        sys.exit("missing: wrk (scripts/setup/45-load-tools.sh)")
    started = time.monotonic()
    tier = pods_tier("scripts/e2e-pods --bench")
    tools = tools_bin(node=True)
    backend = backend_directory()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as scratch:
        scratch = Path(scratch)
        clone = copy_of_the_clone(scratch / "clone")
        lift_per_client_rate_limit(clone)
        (scratch / "registry").mkdir()
        (scratch / "home").mkdir()
        with running_registry(tools, scratch / "registry") as registry:

            def settings() -> dict[str, str]:
                print("Building the services' images", flush=True)
                return pods_cluster_settings(
                    {
                        "items_image": build_and_push(clone, registry, "items-service"),
                        "audit_image": build_and_push(clone, registry, "audit-service"),
                    }
                )

            try:
                with tier_stack(
                    tier,
                    tools,
                    clone,
                    UserBackend(backend, backend.is_dir()),
                    scratch / "home",
                    settings,
                ) as stack:
                    print(f"Deploying the stack {tier.stack} (scripts/up)", flush=True)
                    stack.up().check()
                    wait_until_healthy(stack)
                    items_url = stack.output("items_url")
                    print("Building and deploying the bare Flask ceiling", flush=True)
                    context = ceiling_build_context(clone, scratch / "ceiling")
                    image = build_and_push(context, registry, "bench/ceiling")
                    with ceiling_deployed(stack, image, items_url) as ceiling_url:
                        report = {
                            "items_url": items_url,
                            "ceiling_url": ceiling_url,
                            "connections": options.connections,
                            "rounds": options.rounds,
                            "seconds_per_run": options.seconds,
                            "load_average_before": load_averages(),
                        }
                        print("Load (wrk on the host, both targets on the node):", flush=True)
                        report["routes"] = measure(
                            AuditTrail(stack),
                            {ITEMS: items_url, CEILING: ceiling_url},
                            options.seconds,
                            options.rounds,
                            options.connections,
                        )
                        report["load_average_after"] = load_averages()
                        report["client_addresses_seen_by_the_proxy"] = client_addresses(stack)
                    print(f"Removing the stack {tier.stack} (scripts/down)", flush=True)
            except StackNotOurs as refusal:
                sys.exit(str(refusal))
    report["wall_seconds"] = round(time.monotonic() - started)
    report["finished_at"] = datetime.now(UTC).isoformat()
    print_summary(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Written to {RESULTS.relative_to(REPOSITORY)} in {report['wall_seconds']}s")


if __name__ == "__main__":
    main()
