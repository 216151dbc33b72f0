"""The Prometheus config and the Grafana provisioning files the Pulumi program deploys."""

import subprocess
from pathlib import Path

import pytest
import yaml

import monitoring
from tests.monitoring.prometheus_server import Pod, binary, sanitized, with_static_pods

NAMESPACE = "items-audit"
# Labels Kubernetes pod discovery gives every target (Prometheus docs: kubernetes_sd_config,
# role pod), and the prefixes of those it derives from the pod's labels and annotations.
POD_DISCOVERY_LABELS = {
    "__meta_kubernetes_namespace",
    "__meta_kubernetes_pod_name",
    "__meta_kubernetes_pod_ip",
    "__meta_kubernetes_pod_uid",
    "__meta_kubernetes_pod_phase",
    "__meta_kubernetes_pod_ready",
    "__meta_kubernetes_pod_node_name",
    "__meta_kubernetes_pod_host_ip",
    "__meta_kubernetes_pod_container_name",
    "__meta_kubernetes_pod_container_port_name",
    "__meta_kubernetes_pod_container_port_number",
    "__meta_kubernetes_pod_container_port_protocol",
    "__meta_kubernetes_pod_controller_kind",
    "__meta_kubernetes_pod_controller_name",
}
POD_LABEL_PREFIXES = ("__meta_kubernetes_pod_label_", "__meta_kubernetes_pod_annotation_")
# What the team contract says scraped pods carry.
SCRAPE_ANNOTATIONS = ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")
CONTRACT_POD_METADATA = {
    "__meta_kubernetes_pod_label_" + sanitized("app.kubernetes.io/name"),
    *("__meta_kubernetes_pod_annotation_" + sanitized(name) for name in SCRAPE_ANNOTATIONS),
}


def rendered_config(namespace: str = NAMESPACE) -> dict:
    return yaml.safe_load(monitoring.prometheus_config(namespace))


def test_pod_discovery_is_limited_to_the_stacks_namespace():
    config = rendered_config("shop-dev")
    jobs = config["scrape_configs"]
    assert jobs, "no scrape job"
    for job in jobs:
        # In-cluster discovery (the pod's service account), pods of one namespace only.
        assert job["kubernetes_sd_configs"] == [
            {"role": "pod", "namespaces": {"names": ["shop-dev"]}}
        ]


def test_relabelling_uses_only_labels_pod_discovery_provides():
    for job in rendered_config()["scrape_configs"]:
        used = {
            label
            for rule in job["relabel_configs"]
            for label in rule.get("source_labels", [])
            if label.startswith("__meta_")
        }
        unknown = {
            label
            for label in used
            if label not in POD_DISCOVERY_LABELS and not label.startswith(POD_LABEL_PREFIXES)
        }
        assert not unknown, f"not provided by Kubernetes pod discovery: {unknown}"
        derived = {label for label in used if label.startswith(POD_LABEL_PREFIXES)}
        assert derived == CONTRACT_POD_METADATA


def test_config_keeps_opted_in_pods_and_names_them_by_namespace_pod_and_service():
    job = rendered_config()["scrape_configs"][0]
    rules = job["relabel_configs"]
    assert rules[0] == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }
    targets = {
        rule.get("target_label"): rule["source_labels"]
        for rule in rules
        if rule.get("target_label")
    }
    assert targets["namespace"] == ["__meta_kubernetes_namespace"]
    assert targets["pod"] == ["__meta_kubernetes_pod_name"]
    assert targets["service"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    assert targets["__metrics_path__"] == ["__meta_kubernetes_pod_annotation_prometheus_io_path"]


def test_scrape_and_rule_settings_fit_a_laptop_and_the_rules_mount():
    config = rendered_config()
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


@pytest.mark.parametrize("namespace", ["", "Items", "items_audit", "a" * 64, "x\n  - evil"])
def test_config_refuses_a_namespace_kubernetes_would_refuse(namespace):
    with pytest.raises(ValueError):
        monitoring.prometheus_config(namespace)


@pytest.mark.parametrize("service", ["items-service", "audit-service"])
def test_each_services_pods_opt_in_to_scraping_of_their_metrics_on_their_operations_port(
    pod_templates, service
):
    template = pod_templates[f"Deployment/{service}"]
    # The service container's `ops` port, which no Service exposes.
    [port] = [
        port
        for container in template["spec"]["containers"]
        for port in container.get("ports", [])
        if port["name"] == "ops"
    ]
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == service
    annotations = template["metadata"]["annotations"]
    assert {key: annotations.get(key) for key in SCRAPE_ANNOTATIONS} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port["containerPort"]),
        "prometheus.io/path": "/metrics",
    }


def test_static_stand_in_differs_from_the_deployed_config_only_in_discovery(pod_templates):
    pods = [
        Pod.from_template(
            pod_templates["Deployment/items-service"],
            NAMESPACE,
            "items-service-0",
            "10.0.0.5",
            9080,
        )
    ]
    deployed = rendered_config()
    stand_in = with_static_pods(monitoring.prometheus_config(NAMESPACE), pods)
    jobs = zip(deployed["scrape_configs"], stand_in["scrape_configs"], strict=True)
    for deployed_job, stand_in_job in jobs:
        del deployed_job["kubernetes_sd_configs"]
        assert stand_in_job.pop("static_configs") == [pods[0].static_config()]
    assert stand_in == deployed


def promtool_check_config(config: dict, directory: Path) -> subprocess.CompletedProcess:
    rules_dir = directory / "rules"
    rules_dir.mkdir()
    for name, text in monitoring.alert_rules().items():
        (rules_dir / name).write_text(text)
    # The deployed path, /etc/prometheus/rules, is where the rules ConfigMap is mounted.
    config["rule_files"] = [str(rules_dir / "*.yml")]
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [binary("promtool"), "check", "config", str(config_path)], capture_output=True, text=True
    )


def test_promtool_accepts_the_deployed_config_with_its_pod_discovery_and_alert_rules(tmp_path):
    result = promtool_check_config(rendered_config(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(monitoring.alert_rules())} rule files found" in result.stdout, (
        result.stdout
    )


def test_promtool_refuses_pod_discovery_kubernetes_sd_does_not_support(tmp_path):
    config = rendered_config()
    config["scrape_configs"][0]["kubernetes_sd_configs"][0]["role"] = "deployment"
    result = promtool_check_config(config, tmp_path)
    assert result.returncode == 1
    assert 'unknown Kubernetes SD role "deployment"' in result.stderr, result.stderr


def test_grafana_datasource_is_the_prometheus_service_with_a_fixed_uid():
    provisioning = yaml.safe_load(monitoring.grafana_datasources("http://prometheus:9090"))
    assert provisioning["apiVersion"] == 1
    [datasource] = provisioning["datasources"]
    assert datasource["uid"] == "prometheus"
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["access"] == "proxy"
    assert datasource["jsonData"]["timeInterval"] == rendered_config()["global"]["scrape_interval"]


def test_grafana_dashboard_provider_loads_dashboards_from_the_given_path():
    provisioning = yaml.safe_load(
        monitoring.grafana_dashboard_providers("/var/lib/grafana/dashboards")
    )
    assert provisioning["apiVersion"] == 1
    [provider] = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert provider["allowUiUpdates"] is False
