"""The Prometheus Operator path (the stack setting prometheus_operator), rendered under
Pulumi's mock runtime: a PodMonitor per service and a PrometheusRule with the repository's
rule groups, each valid for the operator's CRDs (v0.85.0, vendored in
prometheus_operator_crds/), and the operator's Prometheus let in to scrape."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from jsonschema.protocols import Validator

import monitoring
from infra import mock_runtime
from tests.infra.k8s_objects import find

CRDS = Path(__file__).parent / "prometheus_operator_crds"
NAMESPACE = "items-audit"
RELEASE_LABELS = {"release": "kube-prometheus-stack"}


@pytest.fixture(scope="module")
def run() -> mock_runtime.Run:
    return mock_runtime.run(
        {
            "items-audit:prometheus_operator": "true",
            "items-audit:prometheus_operator_namespace": "observability",
            "items-audit:prometheus_operator_release": RELEASE_LABELS["release"],
        }
    )


@pytest.fixture(scope="module")
def objects(run) -> list[dict]:
    return [o for o in run.kubernetes_objects() if o["apiVersion"] == "monitoring.coreos.com/v1"]


def strict(schema: dict) -> dict:
    """The schema refusing fields it does not define, as the API server does for a
    custom object under strict field validation (kubectl's default since 1.27)."""
    schema = copy.deepcopy(schema)

    def visit(node):
        if isinstance(node, dict):
            if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                node.setdefault("additionalProperties", False)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def crd_validators() -> dict[tuple[str, str], Validator]:
    """(apiVersion, kind) -> a validator of that kind's openAPIV3Schema."""
    validators = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        for version in crd["spec"]["versions"]:
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schema = strict(version["schema"]["openAPIV3Schema"])
            # OpenAPI 3.0 schemas: draft 4's keywords (exclusiveMinimum is a boolean there).
            validators[api_version, crd["spec"]["names"]["kind"]] = jsonschema.Draft4Validator(
                schema
            )
    return validators


VALIDATORS = crd_validators()


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def test_every_object_is_valid_for_the_operators_crds(objects):
    assert {o["kind"] for o in objects} == {"PodMonitor", "PrometheusRule"}
    for manifest in objects:
        validator = VALIDATORS[manifest["apiVersion"], manifest["kind"]]
        errors = [error.message for error in validator.iter_errors(manifest)]
        assert not errors, (manifest["kind"], manifest["metadata"]["name"], errors)


def test_validation_refuses_an_unknown_field_and_a_wrongly_typed_one(objects):
    [pod_monitor, *_] = of_kind(objects, "PodMonitor")
    validator = VALIDATORS[pod_monitor["apiVersion"], "PodMonitor"]
    unknown = copy.deepcopy(pod_monitor)
    unknown["spec"]["podMetricsEndpoints"][0]["scrapeEvery"] = "15s"
    wrongly_typed = copy.deepcopy(pod_monitor)
    wrongly_typed["spec"]["podMetricsEndpoints"][0]["path"] = 8080
    assert not validator.is_valid(unknown)
    assert not validator.is_valid(wrongly_typed)


def test_each_service_gets_a_pod_monitor_scraping_its_pods_metrics_port(objects):
    monitors = {o["metadata"]["name"]: o for o in of_kind(objects, "PodMonitor")}
    assert set(monitors) == {"items-service", "audit-service"}
    for name, monitor in monitors.items():
        assert monitor["metadata"]["namespace"] == NAMESPACE
        assert monitor["spec"]["selector"] == {
            "matchLabels": {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/part-of": "items-audit",
            }
        }
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert (endpoint["port"], endpoint["path"]) == ("ops", "/metrics")


def test_series_get_the_service_label_the_rules_and_the_dashboard_select_by(objects):
    # The same label as monitoring/prometheus.yml gives: the pods' app.kubernetes.io/name.
    deployed_job = yaml.safe_load(monitoring.prometheus_config(NAMESPACE))["scrape_configs"][0]
    [deployed] = [r for r in deployed_job["relabel_configs"] if r.get("target_label") == "service"]
    for monitor in of_kind(objects, "PodMonitor"):
        [endpoint] = monitor["spec"]["podMetricsEndpoints"]
        assert endpoint["relabelings"] == [
            {"sourceLabels": deployed["source_labels"], "targetLabel": "service"}
        ]


def test_the_prometheus_rule_carries_exactly_the_repositorys_rule_groups(objects):
    [rule] = of_kind(objects, "PrometheusRule")
    assert rule["metadata"]["namespace"] == NAMESPACE
    from_files = [
        group
        for path in sorted(monitoring.RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    ]
    assert rule["spec"]["groups"] == from_files


def test_objects_carry_the_labels_the_clusters_prometheus_selects_by(objects):
    for manifest in objects:
        assert manifest["metadata"]["labels"].items() >= RELEASE_LABELS.items(), manifest


@pytest.mark.parametrize("service, port", [("items-service", 9080), ("audit-service", 9081)])
def test_the_operators_prometheus_may_scrape_each_service(run, service, port):
    ingress = find(run.kubernetes_objects(), "NetworkPolicy", f"allow-{service}")["spec"]["ingress"]
    scraper = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    }
    assert any(
        rule["ports"] == [{"port": port, "protocol": "TCP"}]
        and (rule.get("from") is None or scraper in rule["from"])
        for rule in ingress
    )
    audit = find(run.kubernetes_objects(), "NetworkPolicy", "allow-audit-service")["spec"]
    assert all(rule.get("from") for rule in audit["ingress"]), "audit-service stays internal"


def test_the_operator_path_is_off_by_default():
    kinds = {o["kind"] for o in mock_runtime.run().kubernetes_objects()}
    assert not kinds & {"PodMonitor", "PrometheusRule"}
