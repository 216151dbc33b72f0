"""A real Prometheus, of the release the cluster runs, scrapes both services running
under gunicorn with several workers, through the deployed scrape job (pod discovery
replaced by static targets carrying the rendered pod templates' labels and
annotations). After real traffic — creates, reads, updates, deletes, bad requests,
and audit-service down for a while — every dashboard query, with its variables
substituted as Grafana does, returns plausible data, and the alert rules evaluate
cleanly on it."""

import math
import time
from types import SimpleNamespace

import pytest
import requests

import monitoring
from tests.monitoring.prometheus_server import Pod, PrometheusServer, with_static_pods
from tests.monitoring.promql import dashboard_panels, exported_names_needed
from tests.support.database import create_database, drop_database
from tests.support.metrics import scrape
from tests.support.services import audit_service, items_service, wait_for

NAMESPACE = "items-audit-test"
WORKERS = "3"
# The deployed interval is 15 s; the stand-in scrapes every second so the test is quick.
SCRAPE_INTERVAL = "1s"
# What Grafana puts in for its built-in variables; every query runs within this window.
GRAFANA_VARIABLES = {
    "$namespace": NAMESPACE,
    "$service": "audit-service|items-service",
    "$__rate_interval": "5m",
    "$__range": "10m",
}


def substituted(expr: str) -> str:
    # Longest names first: $__rate_interval must not be mistaken for a shorter variable.
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def prometheus_config(pod_templates, items, audit) -> dict:
    # The pods the deployed workloads make, as pod discovery would find them, each
    # container port reached on loopback; the database's pods do not opt in.
    pods = [
        Pod.from_template(
            pod_templates[f"{workload}/{name}"], NAMESPACE, f"{name}-0", "127.0.0.1", port
        )
        for workload, name, port in [
            ("Deployment", "items-service", items.ops_port),
            ("Deployment", "audit-service", audit.ops_port),
            ("StatefulSet", "postgres", 5432),
        ]
    ]
    config = with_static_pods(monitoring.prometheus_config(NAMESPACE), pods)
    config["global"]["scrape_interval"] = SCRAPE_INTERVAL
    config["global"]["scrape_timeout"] = SCRAPE_INTERVAL
    config["global"]["evaluation_interval"] = SCRAPE_INTERVAL
    return config


def generate_traffic(items_url: str) -> dict[str, int]:
    """Every kind of request the dashboard shows; returns what the item counters must read."""
    api = f"{items_url}/items"
    ids = []
    for n in range(12):
        response = requests.post(
            api, json={"name": f"item {n}", "description": "made by the monitoring test"}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    retrieved = 0
    for query in ({"limit": 5}, {}):
        response = requests.get(api, params=query)
        assert response.status_code == 200
        retrieved += len(response.json())
    for item_id in ids[:6]:
        assert requests.get(f"{api}/{item_id}").status_code == 200
        retrieved += 1
    for item_id in ids[:4]:
        assert (
            requests.put(f"{api}/{item_id}", json={"name": f"renamed {item_id}"}).status_code == 200
        )
    for item_id in ids[-3:]:
        assert requests.delete(f"{api}/{item_id}").status_code == 204
    bad_requests = [
        (requests.post(api, data="{not json", headers={"Content-Type": "application/json"}), 400),
        (requests.post(api, json={"name": "x", "colour": "red"}), 400),
        (requests.post(api, data="name=x", headers={"Content-Type": "text/plain"}), 415),
        (requests.get(f"{api}/999999"), 404),
        (requests.get(f"{api}/not-a-number"), 404),
        (requests.delete(f"{api}/999999"), 404),
        (requests.delete(api), 405),
        (requests.get(f"{items_url}/no-such-path"), 404),
    ]
    assert [response.status_code for response, _ in bad_requests] == [
        status for _, status in bad_requests
    ]
    return {"created": len(ids), "retrieved": retrieved, "updated": 4, "deleted": 3}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pod_templates):
    database = create_database()
    audit = audit_service(database)
    audit.env["WEB_CONCURRENCY"] = WORKERS
    items = items_service(database, audit.url)
    items.env["WEB_CONCURRENCY"] = WORKERS
    directory = tmp_path_factory.mktemp("prometheus")
    rules_dir = directory / "rules"
    rules_dir.mkdir()
    for name, text in monitoring.alert_rules().items():
        (rules_dir / name).write_text(text)
    prometheus = None
    try:
        audit.start()
        items.start()
        config = prometheus_config(pod_templates, items, audit)
        config["rule_files"] = [str(rules_dir / "*.yml")]
        prometheus = PrometheusServer(config, directory).start()

        def both_targets_up():
            health = prometheus.query(f'up{{namespace="{NAMESPACE}"}} == 1')
            return len(health) == 2

        wait_for(both_targets_up, timeout=30, message="Prometheus to scrape both services")

        expected = generate_traffic(items.url)

        # audit-service down: items requests still succeed, the relay counts failures,
        # Prometheus sees the target down; then it comes back and the backlog drains.
        audit.stop()
        for n in range(5):
            response = requests.post(
                f"{items.url}/items", json={"name": f"while audit is down {n}"}
            )
            assert response.status_code == 201, response.text
        expected["created"] += 5
        # Until the first failure the series does not exist, so Prometheus needs to see a
        # retry fail too before rate() shows anything.
        wait_for(
            lambda: prometheus.query(
                "rate(audit_delivery_failures_total"
                f'{{namespace="{NAMESPACE}", reason="unavailable"}}[1m]) > 0'
            ),
            timeout=30,
            message="Prometheus to see failed deliveries",
        )
        wait_for(
            lambda: prometheus.query(
                f'up{{namespace="{NAMESPACE}", service="audit-service"}} == 0'
            ),
            timeout=15,
            message="Prometheus to see audit-service down",
        )
        audit.start()

        def final_state_scraped():
            created = prometheus.query(f'sum(items_created_total{{namespace="{NAMESPACE}"}})')
            pending = prometheus.query(f'max(audit_outbox_pending{{namespace="{NAMESPACE}"}})')
            outbox = database.query("SELECT count(*) FROM audit_outbox WHERE failed_at IS NULL")[0][
                0
            ]
            return (
                outbox == 0
                and created
                and float(created[0]["value"][1]) == expected["created"]
                and pending
                and float(pending[0]["value"][1]) == 0
            )

        wait_for(
            final_state_scraped,
            timeout=60,
            message="the backlog to drain and Prometheus to scrape it",
        )
        # Rate windows need a couple of samples after the last change.
        time.sleep(3)
        yield SimpleNamespace(prometheus=prometheus, items=items, audit=audit, expected=expected)
    finally:
        if prometheus:
            prometheus.stop()
        items.close()
        audit.close()
        drop_database(database)


def test_prometheus_scrapes_opted_in_pods_labelled_by_namespace_pod_and_service(stack):
    targets = stack.prometheus.api("targets")
    active = {target["labels"]["service"]: target for target in targets["activeTargets"]}
    assert set(active) == {"items-service", "audit-service"}
    for service, target in active.items():
        assert target["health"] == "up", target
        assert target["labels"]["namespace"] == NAMESPACE
        assert target["labels"]["pod"] == f"{service}-0"
        assert target["labels"]["job"] == "kubernetes-pods"
        assert (
            target["scrapeUrl"]
            == f"http://127.0.0.1:{getattr(stack, service.split('-')[0]).ops_port}/metrics"
        )
    dropped = [
        target["discoveredLabels"]["__meta_kubernetes_pod_name"]
        for target in targets["droppedTargets"]
    ]
    assert dropped == ["postgres-0"]


def test_item_counters_add_up_across_gunicorn_workers(stack):
    for operation, count in stack.expected.items():
        [sample] = stack.prometheus.query(
            f'sum(items_{operation}_total{{namespace="{NAMESPACE}"}})'
        )
        assert float(sample["value"][1]) == count, operation


def values(series: list[tuple[dict, float]], **labels) -> list[float]:
    return [value for metric, value in series if all(metric.get(k) == v for k, v in labels.items())]


def between(low: float, high: float):
    return lambda value: low <= value <= high


# What a plausible answer is for each panel after the traffic above.
PLAUSIBLE = {
    "Request rate by route and status": lambda results: (
        {metric["route"] for metric, _ in results[0]}
        >= {"/items", "/items/<item_id>", "/events", "unmatched"}
        and {metric["status"] for metric, _ in results[0]}
        >= {"200", "201", "204", "400", "404", "405", "415"}
        and all(value >= 0 for _, value in results[0])
    ),
    # The only 5xx a client may see is a 503 while the database is down: none here.
    "5xx ratio": lambda results: (
        {metric["service"] for metric, _ in results[0]} == {"items-service", "audit-service"}
        and all(value == 0 for _, value in results[0])
    ),
    "Latency by route (p50, p95, p99)": lambda results: all(
        0 < value < 10 for series in results for _, value in series
    ),
    "Item operations": lambda results: all(series and series[0][1] > 0 for series in results),
    "Database query p95 by operation": lambda results: (
        {metric["service"] for metric, _ in results[0]} == {"items-service", "audit-service"}
        and all(0 < value < 5 for _, value in results[0])
    ),
    "Audit events processed by result": lambda results: values(results[0], result="stored")[0] > 0,
    "Audit outbox backlog": lambda results: (
        [value for _, value in results[0]] == [0]
        and [value for _, value in results[1]] == [100_000]
    ),
    "Requests refused, outbox full": lambda results: [value for _, value in results[0]] == [0],
    # audit-service is not told a volume size here (an external server's case): 0.
    "Database size": lambda results: (
        results[0][0][1] > 1_000_000 and [value for _, value in results[1]] == [0]
    ),
    "Audit delivery lag (p50, p95, p99)": lambda results: all(
        0 < value < 300 for series in results for _, value in series
    ),
    "Audit delivery outcomes": lambda results: (
        results[0][0][1] > 0 and values(results[1], reason="unavailable")[0] > 0
    ),
    "Pods up": lambda results: (
        sorted((metric["service"], value) for metric, value in results[0])
        == [("audit-service", 1), ("items-service", 1)]
    ),
    # audit-service was stopped and started again; items-service never restarted.
    "Process restarts": lambda results: (
        values(results[0], service="audit-service")[0] >= 1
        and values(results[0], service="items-service") == [0]
    ),
}


@pytest.mark.parametrize("panel", dashboard_panels(), ids=lambda panel: panel["title"])
def test_every_dashboard_panel_shows_plausible_data(stack, panel):
    results = []
    for target in panel["targets"]:
        expr = substituted(target["expr"])
        assert "$" not in expr, expr
        series = [
            (sample["metric"], float(sample["value"][1])) for sample in stack.prometheus.query(expr)
        ]
        # A quantile is NaN for a series whose rate window saw no increase (e.g. a route
        # requested once, whose series was born with that request); Grafana draws a gap.
        finite = [(metric, value) for metric, value in series if not math.isnan(value)]
        assert finite, f"no data for {target['legendFormat']!r}: {expr} -> {series}"
        assert all(math.isfinite(value) for _, value in finite), (expr, series)
        results.append(finite)
    assert panel["title"] in PLAUSIBLE, "add what a plausible answer is for this panel"
    assert PLAUSIBLE[panel["title"]](results), (panel["title"], results)


def test_alert_rules_evaluate_cleanly_on_live_data(stack):
    def evaluated_groups():
        groups = stack.prometheus.api("rules")["groups"]
        return (
            groups
            if groups and all(group["lastEvaluation"][:4] != "0001" for group in groups)
            else None
        )

    groups = wait_for(evaluated_groups, timeout=15, message="every rule group to be evaluated")
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == sum(
        text.count("- alert:") + text.count("- record:")
        for text in monitoring.alert_rules().values()
    )
    for rule in rules:
        assert rule["health"] == "ok", rule
    firing = [
        alert for rule in rules for alert in rule.get("alerts", []) if alert["state"] == "firing"
    ]
    assert firing == []


def test_dashboard_and_rules_use_only_metric_names_the_services_export(stack):
    exported = {
        name for url in (stack.items.ops_url, stack.audit.ops_url) for name, _ in scrape(url)
    }
    missing = exported_names_needed() - exported
    assert not missing, f"read by the dashboard or the rules but not exported: {sorted(missing)}"
