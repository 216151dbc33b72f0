"""Monitoring on a real node: the stack's Prometheus finds every opted-in pod through its
kubernetes_sd pod discovery and scrapes it, and after traffic through `items_url` every
query of every panel of the dashboard Grafana was provisioned with returns data, with the
dashboard's variables filled in as Grafana fills them. Grafana itself is a stand-in here
(e2e/pods/README.md): the dashboard is proven by its queries, run by Prometheus."""

import math
import re
import threading
import time

import requests
import yaml

from tests.e2e.stack import NAMESPACE
from tests.e2e_pods.prometheus_api import Prometheus, scrape_url, targets_up
from tests.monitoring.promql import metric_names

DASHBOARD_UID = "items-audit"
SERVICES = {"items-service", "audit-service"}
# Bounds of the traffic: rounds of six requests, at most this many, for at most this long.
TRAFFIC_ROUNDS = 300
TRAFFIC_SECONDS = 240
# Characters Grafana escapes in a multi-value variable's values (prometheusSpecialRegexEscape).
REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|\[\]{}])")


def seconds(duration: str) -> int:
    """A Grafana/Prometheus duration of one unit: 15s, 1m, 1h."""
    number, unit = re.fullmatch(r"(\d+)([smhd])", duration).groups()
    return int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def grafana_variables(prometheus: Prometheus, dashboard: dict, time_interval: int) -> dict:
    """What Grafana puts in for the dashboard's variables with nothing chosen by hand: a
    query variable's options are its label_values() answer (sorted, `sort: 1`), the first
    is selected unless the dashboard says otherwise, and "All" of a multi-value variable
    becomes the regex (a|b) of every option; $__range is the dashboard's time range and
    $__rate_interval is max($__interval + scrape interval, 4 x scrape interval), the scrape
    interval being the datasource's timeInterval (a one-hour range at any panel width
    over 240 px makes $__interval that floor)."""
    values = {}
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]
        for name, value in values.items():
            query = query.replace(f"${name}", value)
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
        assert match, f"a variable query Grafana's Prometheus source would not run: {query}"
        series, label = match.groups()
        options = sorted(prometheus.api(f"label/{label}/values", **{"match[]": series}))
        assert options, f"variable {variable['name']}: {query} has no values"
        current = (variable.get("current") or {}).get("value")
        if variable.get("includeAll") and current in ("$__all", ["$__all"]):
            chosen = options
        else:
            chosen = options[:1]
        escaped = [REGEX_SPECIAL.sub(r"\\\1", option) for option in chosen]
        values[variable["name"]] = escaped[0] if len(escaped) == 1 else f"({'|'.join(escaped)})"
    time_range = dashboard["time"]
    assert time_range["to"] == "now", time_range
    range_seconds = seconds(time_range["from"].removeprefix("now-"))
    values["__range"] = f"{range_seconds}s"
    interval = time_interval
    values["__rate_interval"] = f"{max(interval + time_interval, 4 * time_interval)}s"
    return values


def substituted(expr: str, values: dict) -> str:
    # Longest names first: $__rate_interval must not be taken for a shorter name.
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${name}", values[name])
    assert "$" not in expr, expr
    return expr


def finite(prometheus: Prometheus, expr: str) -> list[dict]:
    """The series of an instant query that have a value; a NaN (a quantile of a window
    without increase) is a gap in Grafana's graph, not data."""
    return [s for s in prometheus.query(expr) if not math.isnan(float(s["value"][1]))]


class Traffic(threading.Thread):
    """Users of items_url, in a bounded loop, until stopped: every kind of request the
    dashboard shows (creates, reads, updates, deletes, a not-found)."""

    def __init__(self, items_url: str):
        super().__init__(daemon=True)
        self.api = f"{items_url}/items"
        self.stopped = threading.Event()
        self.statuses: list[int] = []
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self._requests()
        except Exception as error:  # noqa: BLE001 (reported by the test)
            self.error = error

    def _requests(self) -> None:
        deadline = time.monotonic() + TRAFFIC_SECONDS
        for round_ in range(TRAFFIC_ROUNDS):
            if self.stopped.is_set() or time.monotonic() > deadline:
                return
            created = requests.post(
                self.api,
                json={"name": f"monitored {round_}", "description": "e2e-pods"},
                timeout=10,
            )
            self.statuses.append(created.status_code)
            item = f"{self.api}/{created.json()['id']}"
            for response in (
                requests.get(self.api, params={"limit": 5}, timeout=10),
                requests.get(item, timeout=10),
                requests.put(item, json={"name": f"renamed {round_}"}, timeout=10),
                requests.delete(item, timeout=10),
                requests.get(item, timeout=10),
            ):
                self.statuses.append(response.status_code)
            self.stopped.wait(0.5)


def test_prometheus_discovers_every_opted_in_pod_through_kubernetes_sd_and_each_is_up(deployed):
    stack = deployed
    prometheus = Prometheus(stack.output("prometheus_url"))
    pods, targets = targets_up(prometheus, stack)
    assert {pod["metadata"]["labels"]["app.kubernetes.io/name"] for pod in pods.values()} == (
        SERVICES
    )
    for name, pod in pods.items():
        target = targets[name]
        # Found by pod discovery (these labels come only from kubernetes_sd), scraped on
        # the pod's own address and annotated port.
        assert target["discoveredLabels"]["__meta_kubernetes_pod_name"] == name
        assert target["discoveredLabels"]["__meta_kubernetes_namespace"] == NAMESPACE
        assert target["scrapeUrl"] == scrape_url(pod)
        assert target["labels"]["job"] == "kubernetes-pods"
        assert target["labels"]["service"] == pod["metadata"]["labels"]["app.kubernetes.io/name"]
        up = prometheus.query(f'up{{namespace="{NAMESPACE}", pod="{name}"}} == 1')
        assert [series["metric"]["service"] for series in up] == [target["labels"]["service"]], (
            name,
            up,
        )


def test_every_dashboard_panel_returns_data_for_every_service_it_shows_after_traffic(
    deployed, capsys, record_property
):
    stack = deployed
    prometheus = Prometheus(stack.output("prometheus_url"))
    targets_up(prometheus, stack)
    # The dashboard as Grafana holds it (provisioned from its ConfigMap), and the scrape
    # interval its datasource was provisioned with.
    password = stack.output("grafana_admin_password", "--show-secrets")
    answer = requests.get(
        f"{stack.output('grafana_url')}/api/dashboards/uid/{DASHBOARD_UID}",
        auth=("admin", password),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    dashboard = answer.json()["dashboard"]
    [datasources] = [
        yaml.safe_load(item["data"]["datasources.yml"])
        for item in stack.kubectl_json("get", "configmaps", "--namespace", NAMESPACE)["items"]
        if item["metadata"]["name"].startswith("grafana-datasources")
    ]
    [source] = datasources["datasources"]
    panels = [panel for panel in dashboard["panels"] if panel.get("targets")]
    assert panels
    assert all(
        target["datasource"]["uid"] == source["uid"] for p in panels for target in p["targets"]
    )
    values = grafana_variables(prometheus, dashboard, seconds(source["jsonData"]["timeInterval"]))
    assert values["namespace"] == NAMESPACE

    def exporters(expr: str) -> set[str]:
        """The services whose series the query reads exist (count by service, no rate)."""
        selector = (
            f'{{__name__=~"{"|".join(sorted(metric_names(expr)))}", namespace="{NAMESPACE}"}}'
        )
        return {
            s["metric"]["service"] for s in prometheus.query(f"count by (service) ({selector})")
        }

    def observe() -> list[dict]:
        """Per query: data with the variables as they are (service: All), the services
        it shows data for when one is chosen, and the services exporting what it reads."""
        return [
            {
                "panel": panel["title"],
                "legend": target["legendFormat"],
                "data": bool(finite(prometheus, substituted(target["expr"], values))),
                "showing": {
                    service
                    for service in SERVICES
                    if finite(
                        prometheus, substituted(target["expr"], {**values, "service": service})
                    )
                },
                "exporters": exporters(target["expr"]),
            }
            for panel in panels
            for target in panel["targets"]
        ]

    traffic = Traffic(stack.output("items_url"))
    traffic.start()
    started = time.monotonic()
    try:
        # Rates need two scrapes of the traffic in their window: wait for it, no longer.
        while True:
            rows = observe()
            done = all(r["data"] and r["showing"] == r["exporters"] for r in rows)
            if done or not traffic.is_alive():
                break
            time.sleep(5)
    finally:
        traffic.stopped.set()
        traffic.join(30)
    waited = time.monotonic() - started

    lines = [
        f"Dashboard panels after {len(traffic.statuses)} requests ({waited:.0f} s),"
        f" variables {values}:"
    ]
    for row in rows:
        lines.append(
            f"  {row['panel'] + ' / ' + row['legend']:<58} data: {'yes' if row['data'] else 'NO'};"
            f" per service: {sorted(row['showing'])}; exported by: {sorted(row['exporters'])}"
        )
    text = "\n".join(lines)
    record_property("dashboard_panels", text)
    with capsys.disabled():
        print("\n" + text, flush=True)

    assert traffic.error is None, f"the traffic stopped: {traffic.error!r}"
    assert traffic.statuses and all(status < 500 for status in traffic.statuses)
    for row in rows:
        assert row["data"], f"{row['panel']} / {row['legend']}: no data"
        assert row["showing"] == row["exporters"], row
    assert set().union(*(row["showing"] for row in rows)) == SERVICES
