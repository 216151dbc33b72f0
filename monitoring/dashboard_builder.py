"""The Grafana dashboard of the items and audit services, as code.

`python -m monitoring.dashboard_builder` regenerates monitoring/dashboards/*.json,
which are committed so that deployments need no generator; a test checks the
committed files match a fresh generation.
"""

import json
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

DASHBOARDS_DIR = Path(__file__).parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")

# Every query is limited to the dashboard's variables.
SELECTED = 'namespace="$namespace", service=~"$service"'
# Kubelet probes and Prometheus scrapes are not user traffic (same as the alert rules).
USER_TRAFFIC = SELECTED + ', route!~"/healthz|/readyz|/metrics"'
RATE_WINDOW = "$__rate_interval"


def rate(series: str, selector: str = SELECTED) -> str:
    return f"rate({series}{{{selector}}}[{RATE_WINDOW}])"


def query(expr: str, legend: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def graph(
    title: str, unit: str, description: str, *queries: prometheus.Dataquery
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .description(description)
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .fill_opacity(10)
    )
    for index, target in enumerate(queries):
        panel.with_target(target.ref_id(chr(ord("A") + index)))
    return panel


def latency_quantiles(
    histogram: str, selector: str, by: str, legend: str
) -> list[prometheus.Dataquery]:
    return [
        query(
            f"histogram_quantile({quantile}, "
            f"sum by ({by}le) ({rate(histogram + '_bucket', selector)}))",
            f"{legend}p{int(quantile * 100)}",
        )
        for quantile in (0.5, 0.95, 0.99)
    ]


def variables() -> list[dashboard.QueryVariable]:
    namespace = (
        dashboard.QueryVariable("namespace")
        .label("Namespace")
        .description("Kubernetes namespace of the stack.")
        .datasource(DATASOURCE)
        .query("label_values(up, namespace)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    service = (
        dashboard.QueryVariable("service")
        .label("Service")
        .description("Services to show (the pods' app.kubernetes.io/name label).")
        .datasource(DATASOURCE)
        .query('label_values(up{namespace="$namespace"}, service)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
    )
    return [namespace, service]


def requests_panels() -> list[timeseries.Panel]:
    requests = rate("http_request_duration_seconds_count", USER_TRAFFIC)
    server_errors = rate("http_request_duration_seconds_count", USER_TRAFFIC + ', status=~"5.."')
    return [
        graph(
            "Request rate by route and status",
            "reqps",
            "Requests per second each service answered, by route template and HTTP status "
            "(probes and scrapes included; 'unmatched' is any path outside the API).",
            query(
                f"sum by (service, route, status) ({rate('http_request_duration_seconds_count')})",
                "{{service}} {{route}} {{status}}",
            ),
        ),
        graph(
            "5xx ratio",
            "percentunit",
            "Share of user requests (probes and scrapes excluded) answered with a 5xx. The "
            "availability objective is 99.9 %, so anything above 0.1 % spends error budget; "
            "items-service answers 503 only while the database is unreachable.",
            query(
                # "or ... * 0": a service without any 5xx shows 0, not "no data".
                f"(sum by (service) ({server_errors}) or sum by (service) ({requests}) * 0)"
                f" / sum by (service) ({requests})",
                "{{service}}",
            ),
        ),
        graph(
            "Latency by route (p50, p95, p99)",
            "s",
            "Request duration quantiles per service and route template, from the "
            "http_request_duration_seconds histogram. The objective is p99 under 500 ms.",
            *latency_quantiles(
                "http_request_duration_seconds",
                USER_TRAFFIC,
                "service, route, ",
                "{{service}} {{route}} ",
            ),
        ),
    ]


def items_panels() -> list[timeseries.Panel]:
    return [
        graph(
            "Database size",
            "bytes",
            "The database's files as audit-service reads them (pg_database_size; the "
            "write-ahead log, up to a quarter of the volume, comes on top) and the volume they "
            "live on (0 when unknown: an external server). The audit trail is kept for "
            "audit_retention_days; alerts fire before the volume fills.",
            query(f"max(database_size_bytes{{{SELECTED}}})", "database"),
            query(f"max(database_volume_size_bytes{{{SELECTED}}})", "volume"),
        ),
        graph(
            "Item operations",
            "ops",
            "Items created, retrieved (each item a read returns, lists included), updated and "
            "deleted per second, counted when the change is committed.",
            *(
                query(f"sum({rate(f'items_{operation}_total')})", operation)
                for operation in ("created", "retrieved", "updated", "deleted")
            ),
        ),
        graph(
            "Database query p95 by operation",
            "s",
            "95th percentile duration of each kind of database statement, per service, "
            "from the db_query_duration_seconds histogram.",
            query(
                "histogram_quantile(0.95, sum by (service, operation, le) "
                f"({rate('db_query_duration_seconds_bucket')}))",
                "{{service}} {{operation}}",
            ),
        ),
    ]


def audit_panels() -> list[timeseries.Panel]:
    return [
        graph(
            "Audit events processed by result",
            "ops",
            "Audit events audit-service handled per second: stored, duplicate (a redelivery, "
            "stored once already), rejected as invalid, or conflict (an id stored with other "
            "content).",
            query(
                f"sum by (result) ({rate('audit_events_processed_total')})",
                "{{result}}",
            ),
        ),
        graph(
            "Audit outbox backlog",
            "short",
            "Audit events waiting in items-service's outbox for delivery (events rejected as "
            "invalid excluded). Every items pod counts the same shared table, hence the max. "
            "Near 0 when delivery keeps up; grows while audit-service is unreachable, up to "
            "the limit, where audited requests are refused with 503.",
            query(f"max by (service) (audit_outbox_pending{{{SELECTED}}})", "pending"),
            query(f"max by (service) (audit_outbox_limit{{{SELECTED}}})", "limit"),
        ),
        graph(
            "Requests refused, outbox full",
            "reqps",
            "Audited requests per second items-service refused with 503, not carried out, "
            "because the audit outbox was at its limit (audit-service away too long).",
            query(f"sum({rate('audit_outbox_full_refusals_total')})", "refused"),
        ),
        graph(
            "Audit delivery lag (p50, p95, p99)",
            "s",
            "Time from an audit event's outbox row being written to audit-service "
            "acknowledging it, from the audit_delivery_lag_seconds histogram.",
            *latency_quantiles("audit_delivery_lag_seconds", SELECTED, "", ""),
        ),
        graph(
            "Audit delivery outcomes",
            "ops",
            "Audit events per second the outbox relay delivered, and those a delivery attempt "
            "did not deliver by reason: unavailable (audit-service down; retried), unauthorized "
            "(token refused; retried), rejected (invalid; kept in the outbox, not retried).",
            query(f"sum({rate('audit_events_delivered_total')})", "delivered"),
            query(
                f"sum by (reason) ({rate('audit_delivery_failures_total')})",
                "failed: {{reason}}",
            ),
        ),
    ]


def pods_panels() -> list:
    return [
        stat.Panel()
        .title("Pods up")
        .unit("none")
        .description(
            "Pods of each service that Prometheus scraped successfully at the last scrape."
        )
        .datasource(DATASOURCE)
        .height(8)
        .span(12)
        .with_target(query(f"sum by (service) (up{{{SELECTED}}})", "{{service}}").ref_id("A")),
        graph(
            "Process restarts",
            "none",
            "Restarts of each pod's service process in the selected time range, seen as resets "
            "of its request counters (a pod's metrics start from zero when its container "
            "restarts). No kube-state-metrics is deployed, so this is the restart signal "
            "available.",
            query(
                "max by (service, pod) (resets("
                f"http_request_duration_seconds_count{{{SELECTED}}}[$__range]))",
                "{{pod}}",
            ),
        ),
    ]


def items_audit_dashboard() -> dashboard.Dashboard:
    builder = (
        dashboard.Dashboard("Items and audit services")
        .uid("items-audit")
        .description(
            "HTTP traffic, items, the audit trail and the database, per namespace and service."
        )
        .tags(["items-audit"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .readonly()
    )
    for variable in variables():
        builder.with_variable(variable)
    sections = {
        "Requests": requests_panels(),
        "Items and database": items_panels(),
        "Audit trail": audit_panels(),
        "Pods": pods_panels(),
    }
    # Provisioned dashboards carry their own panel ids; Grafana does not add them.
    panel_id = 0
    for title, panels in sections.items():
        panel_id += 1
        builder.with_row(dashboard.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder.with_panel(panel.id(panel_id))
    return builder


def render(builder: dashboard.Dashboard) -> str:
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """Dashboard file name -> JSON, as committed under monitoring/dashboards/."""
    return {"items-audit.json": render(items_audit_dashboard())}


def main() -> None:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in generate().items():
        (DASHBOARDS_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
