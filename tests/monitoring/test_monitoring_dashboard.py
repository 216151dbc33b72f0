"""The Grafana dashboard as code: the committed JSON is what the builder generates,
and every panel is complete. Its queries are run against a real Prometheus in
test_monitoring_live.py."""

import importlib.metadata
import json

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

import monitoring
from infra.grafana import GRAFANA_IMAGE
from monitoring import dashboard_builder
from tests.monitoring.promql import dashboard_panels

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}


def test_committed_dashboards_equal_a_fresh_generation():
    assert monitoring.dashboards() == dashboard_builder.generate(), (
        "monitoring/dashboards is stale: run `python -m monitoring.dashboard_builder`"
    )


def test_dashboard_has_namespace_and_service_variables_from_prometheus():
    [text] = monitoring.dashboards().values()
    dashboard = json.loads(text)
    assert dashboard["uid"] == "items-audit"
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert set(variables) == {"namespace", "service"}
    assert all(variable["datasource"] == DATASOURCE for variable in variables.values())
    assert variables["service"]["multi"] and variables["service"]["includeAll"]
    assert "$namespace" in variables["service"]["query"]


def test_every_panel_has_title_unit_description_and_filtered_queries():
    panels = dashboard_panels()
    assert len(panels) >= 10
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        title = panel["title"]
        assert title, panel
        assert panel["fieldConfig"]["defaults"]["unit"], title
        assert len(panel["description"]) > 20, title
        assert panel["datasource"] == DATASOURCE, title
        assert panel["targets"], title
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, title
            assert target["legendFormat"], title
            assert (
                'namespace="$namespace"' in target["expr"]
                and 'service=~"$service"' in target["expr"]
            ), title


def test_dashboard_shows_what_the_issue_asks_for():
    titles = {panel["title"] for panel in dashboard_panels()}
    assert titles >= {
        "Request rate by route and status",
        "5xx ratio",
        "Latency by route (p50, p95, p99)",
        "Item operations",
        "Audit events processed by result",
        "Audit outbox backlog",
        "Audit delivery lag (p50, p95, p99)",
        "Database query p95 by operation",
        "Process restarts",
    }


def test_the_dashboard_survives_grafanas_own_typed_model_without_loss():
    """Parsed into the SDK's dashboard model (panel options and field config into
    their panel plugins' types too) and written out again, nothing changes: the
    JSON holds only what that Grafana version understands."""
    plugins.register_default_plugins()
    for text in monitoring.dashboards().values():
        document = json.loads(text)
        model = Dashboard.from_json(document)
        assert json.loads(JSONEncoder(sort_keys=True).encode(model)) == document


def test_the_dashboard_model_is_the_one_of_the_grafana_the_cluster_runs():
    sdk = importlib.metadata.version("grafana-foundation-sdk").split("!")[-1]
    image = GRAFANA_IMAGE.split("@")[0].split(":")[1]
    assert sdk.split(".")[:2] == image.split(".")[:2], (sdk, GRAFANA_IMAGE)
