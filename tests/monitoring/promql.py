"""Metric names a PromQL expression reads, and the expressions the monitoring code holds."""

import json
import re

import monitoring

KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}
# Prometheus creates `up` for every scrape itself.
PROMETHEUS_SERIES = {"up"}
# The kubelet's volume statistics: a cluster's own Prometheus scrapes them, never the
# stack's, which reads only its namespace's pods (monitoring/rules/storage.yml).
KUBELET_SERIES = {"kubelet_volume_stats_available_bytes", "kubelet_volume_stats_capacity_bytes"}


def metric_names(expr: str) -> set[str]:
    """Names of the series an expression selects (function and aggregation names excluded)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery windows
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr):
        name, is_call = match.groups()
        if not is_call and name not in KEYWORDS:
            names.add(name)
    return names


def rules() -> list[dict]:
    return [rule for group in monitoring.rule_groups() for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


def dashboard_panels() -> list[dict]:
    """Every panel that shows data, across all dashboards."""
    return [
        panel
        for text in monitoring.dashboards().values()
        for panel in json.loads(text)["panels"]
        if panel["type"] != "row"
    ]


def exported_names_needed() -> set[str]:
    """Series names the dashboards and the rules read that the services must export."""
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    exprs = [rule["expr"] for rule in rules()]
    exprs += [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]
    names = set().union(*(metric_names(expr) for expr in exprs))
    return names - recorded - PROMETHEUS_SERIES - KUBELET_SERIES
