"""Who can reach the stack from outside the cluster, and where the pods may go
outside it, for each cluster and exposure setting: node ports only on a local
cluster, an Ingress or a load balancer on a remote one, monitoring inside the
cluster unless published on purpose, and egress to named addresses only."""

import ipaddress
import re

import kubernetes_validate
import pytest
import yaml

from infra import mock_runtime, render
from tests.infra.k8s_objects import find
from tests.infra.test_infra_manifests import KUBERNETES_VERSIONS, _checkov
from tests.infra.test_infra_network_policies import OUTSIDE, reachability

REMOTE = {
    "items-audit:cluster": "remote",
    "items-audit:image_registry": "registry.example.com/team",
    "items-audit:public_host": "items.example.com",
}
EXTERNAL_DATABASE = {
    "items-audit:database_url": "postgresql://migrator:pw@db.example.com:5432/shop"
    "?sslmode=verify-full&sslrootcert=system",
    "items-audit:database_cidrs": '["10.0.12.0/24", "fd00:12::/64"]',
}
SECRET = ("items-audit:database_url",)


def _run(config: dict) -> mock_runtime.Run:
    return mock_runtime.run(
        config, secret_keys=SECRET if "items-audit:database_url" in config else ()
    )


def _policy_cidrs(objects: list[dict]) -> list[str]:
    return [
        peer["ipBlock"]["cidr"]
        for o in objects
        if o["kind"] == "NetworkPolicy"
        for rule in o["spec"].get("egress", []) + o["spec"].get("ingress", [])
        for peer in rule.get("to", []) + rule.get("from", [])
        if "ipBlock" in peer
    ]


def _services(objects: list[dict]) -> dict[str, dict]:
    return {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Service"}


# --- egress: named addresses only -------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [{}, EXTERNAL_DATABASE, REMOTE, {**REMOTE, **EXTERNAL_DATABASE}],
    ids=["default", "external-database", "remote", "remote-external-database"],
)
def test_no_network_policy_opens_every_address(config):
    cidrs = _policy_cidrs(_run(config).kubernetes_objects())
    assert cidrs, "the render has no egress to an address at all"
    assert [cidr for cidr in cidrs if ipaddress.ip_network(cidr).prefixlen == 0] == []


def test_prometheus_reaches_the_api_server_at_the_addresses_its_endpoint_slice_lists():
    run = _run({})
    (read,) = [r for r in run.by_type("kubernetes:discovery.k8s.io/v1:EndpointSlice")] or [None]
    egress = find(run.kubernetes_objects(), "NetworkPolicy", "allow-prometheus-egress")["spec"]
    blocks = [rule for rule in egress["egress"] if "ipBlock" in rule["to"][0]]
    assert blocks == [
        {
            "to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}],
            "ports": [{"protocol": "TCP", "port": 6443}],
        }
    ]


def test_the_api_server_addresses_can_be_set_instead_of_read():
    run = _run({"items-audit:api_server_cidrs": "10.96.0.0/28, 192.168.10.5/32"})
    egress = find(run.kubernetes_objects(), "NetworkPolicy", "allow-prometheus-egress")["spec"]
    (rule,) = [rule for rule in egress["egress"] if "ipBlock" in rule["to"][0]]
    assert [peer["ipBlock"]["cidr"] for peer in rule["to"]] == ["10.96.0.0/28", "192.168.10.5/32"]
    assert [port["port"] for port in rule["ports"]] == [443, 6443]


def test_without_prometheus_no_pod_may_reach_the_api_server():
    objects = _run({"items-audit:monitoring": "false"}).kubernetes_objects()
    assert _policy_cidrs(objects) == []


def test_an_external_database_is_reached_at_its_cidrs_only():
    objects = _run(EXTERNAL_DATABASE).kubernetes_objects()
    for client in ("items-service", "audit-service", "postgres-schema", "audit-retention"):
        egress = find(objects, "NetworkPolicy", f"allow-{client}-egress")["spec"]["egress"]
        (rule,) = [rule for rule in egress if "ipBlock" in rule["to"][0]]
        assert rule == {
            "to": [{"ipBlock": {"cidr": "10.0.12.0/24"}}, {"ipBlock": {"cidr": "fd00:12::/64"}}],
            "ports": [{"protocol": "TCP", "port": 5432}],
        }, client


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {**EXTERNAL_DATABASE, "items-audit:database_cidrs": None},
            "an external database_url needs database_cidrs",
        ),
        (
            {**EXTERNAL_DATABASE, "items-audit:database_cidrs": "0.0.0.0/0"},
            "database_cidrs: 0.0.0.0/0 is every address",
        ),
        (
            {**EXTERNAL_DATABASE, "items-audit:database_cidrs": "::/0"},
            "database_cidrs: ::/0 is every address",
        ),
        (
            {**EXTERNAL_DATABASE, "items-audit:database_cidrs": "db.example.com"},
            "database_cidrs: 'db.example.com' is not a CIDR",
        ),
        (
            {**EXTERNAL_DATABASE, "items-audit:database_cidrs": "10.0.12.1/24"},
            "database_cidrs: '10.0.12.1/24' is not a CIDR",
        ),
        ({"items-audit:database_cidrs": "10.0.12.0/24"}, "database_cidrs is for an external"),
        ({"items-audit:api_server_cidrs": "0.0.0.0/0"}, "api_server_cidrs: 0.0.0.0/0 is every"),
    ],
)
def test_egress_settings_that_would_open_too_much_or_nothing_stop_the_program(config, message):
    config = {key: value for key, value in config.items() if value is not None}
    with pytest.raises(Exception, match=re.escape(message)):
        _run(config)


# --- monitoring: inside the cluster unless published -----------------------------


def test_on_a_remote_cluster_prometheus_and_grafana_are_reachable_inside_the_cluster_only():
    run = _run(REMOTE)
    objects = run.kubernetes_objects()
    services = _services(objects)
    for name in ("prometheus", "grafana"):
        assert services[name]["type"] == "ClusterIP", name
        assert "nodePort" not in services[name]["ports"][0], name
    matrix = reachability(objects)
    assert matrix[("prometheus", 9090)] == {"grafana"}
    assert matrix[("grafana", 3000)] == set()
    # The outputs are the port-forward's addresses, and say how to open it.
    assert run.outputs["grafana_url"] == "http://localhost:3000"
    assert run.outputs["prometheus_url"] == "http://localhost:9090"
    assert run.outputs["grafana_port_forward"] == (
        "kubectl --namespace items-audit port-forward service/grafana 3000:3000"
    )
    assert run.outputs["prometheus_port_forward"] == (
        "kubectl --namespace items-audit port-forward service/prometheus 9090:9090"
    )


def test_a_setting_publishes_monitoring_on_node_ports_on_a_remote_cluster():
    run = _run({**REMOTE, "items-audit:monitoring_node_ports": "true"})
    objects = run.kubernetes_objects()
    services = _services(objects)
    assert services["grafana"]["ports"][0]["nodePort"] == 30300
    assert services["prometheus"]["ports"][0]["nodePort"] == 30090
    assert OUTSIDE in reachability(objects)[("grafana", 3000)]
    assert run.outputs["grafana_url"] == "http://items.example.com:30300"
    assert "grafana_port_forward" not in run.outputs


def test_a_setting_keeps_monitoring_inside_a_local_cluster():
    run = _run({"items-audit:monitoring_node_ports": "false"})
    services = _services(run.kubernetes_objects())
    assert services["grafana"]["type"] == services["prometheus"]["type"] == "ClusterIP"
    assert services["items-service"]["type"] == "NodePort"
    assert run.outputs["grafana_url"] == "http://localhost:3000"


# --- the public entry point --------------------------------------------------------


def test_on_a_remote_cluster_items_is_behind_an_ingress_by_default():
    run = _run(REMOTE)
    objects = run.kubernetes_objects()
    service = _services(objects)["items-service"]
    assert service["type"] == "ClusterIP"
    assert "nodePort" not in service["ports"][0]
    assert not [s for s in _services(objects).values() if s.get("type") == "NodePort"]
    ingress = find(objects, "Ingress", "items-service")["spec"]
    assert ingress == {
        "rules": [
            {
                "host": "items.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "items-service", "port": {"name": "http"}}
                            },
                        }
                    ]
                },
            }
        ]
    }
    assert run.outputs["items_url"] == "http://items.example.com"


def test_an_ingress_with_a_tls_secret_and_a_class_serves_https():
    run = _run(
        {
            **REMOTE,
            "items-audit:ingress_class": "nginx",
            "items-audit:ingress_tls_secret": "items-tls",
        }
    )
    ingress = find(run.kubernetes_objects(), "Ingress", "items-service")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["items.example.com"], "secretName": "items-tls"}]
    assert run.outputs["items_url"] == "https://items.example.com"


def test_a_load_balancer_is_open_to_the_ranges_the_stack_names_and_its_url_is_its_address():
    config = {
        **REMOTE,
        "items-audit:public_host": None,
        "items-audit:items_exposure": "load-balancer",
        "items-audit:load_balancer_source_ranges": "203.0.113.0/24",
    }
    run = _run({key: value for key, value in config.items() if value is not None})
    objects = run.kubernetes_objects()
    service = _services(objects)["items-service"]
    assert service["type"] == "LoadBalancer"
    assert service["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    assert "nodePort" not in service["ports"][0]
    assert not [o for o in objects if o["kind"] == "Ingress"]
    assert run.outputs["items_url"] == f"http://{mock_runtime.LOAD_BALANCER_ADDRESS}:8080"


def test_a_load_balancer_with_a_dns_name_gives_that_name_as_its_url():
    run = _run(
        {
            **REMOTE,
            "items-audit:items_exposure": "load-balancer",
            "items-audit:load_balancer_source_ranges": '["0.0.0.0/0", "::/0"]',
        }
    )
    assert _services(run.kubernetes_objects())["items-service"]["loadBalancerSourceRanges"] == [
        "0.0.0.0/0",
        "::/0",
    ]
    assert run.outputs["items_url"] == "http://items.example.com:8080"


def test_local_clusters_keep_the_fixed_node_ports_their_port_mappings_need():
    for cluster in ("kind", "minikube", "docker-desktop"):
        services = _services(_run({"items-audit:cluster": cluster}).kubernetes_objects())
        assert services["items-service"]["ports"][0]["nodePort"] == 30080, cluster
        assert services["items-service"]["type"] == "NodePort", cluster


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {**REMOTE, "items-audit:items_exposure": "node-port"},
            "items_exposure 'node-port' is for local clusters",
        ),
        ({**REMOTE, "items-audit:public_host": None}, "items_exposure 'ingress' needs public_host"),
        (
            {**REMOTE, "items-audit:public_host": "203.0.113.7"},
            "needs public_host to be a DNS name",
        ),
        (
            {**REMOTE, "items-audit:items_exposure": "load-balancer"},
            "items_exposure 'load-balancer' needs load_balancer_source_ranges",
        ),
        ({**REMOTE, "items-audit:items_exposure": "route"}, "items_exposure must be one of"),
        (
            {"items-audit:load_balancer_source_ranges": "10.0.0.0/8"},
            "load_balancer_source_ranges is for items_exposure 'load-balancer'",
        ),
        ({"items-audit:ingress_class": "nginx"}, "ingress_class is for items_exposure 'ingress'"),
    ],
)
def test_exposure_settings_that_do_not_fit_the_cluster_stop_the_program(config, message):
    config = {key: value for key, value in config.items() if value is not None}
    with pytest.raises(Exception, match=re.escape(message)):
        _run(config)


# --- an external database: verified TLS ---------------------------------------------


@pytest.mark.parametrize("query", ["", "?sslmode=require", "?sslmode=verify-ca"])
def test_an_external_database_url_that_does_not_verify_the_server_is_refused(query):
    config = {
        **EXTERNAL_DATABASE,
        "items-audit:database_url": f"postgresql://migrator:pw@db.example.com/shop{query}",
    }
    with pytest.raises(Exception, match="does not verify the database server") as refused:
        _run(config)
    assert "database_allow_unverified_tls" in str(refused.value)
    assert "pw" not in str(refused.value).replace("password", "")


def test_an_unverified_external_database_is_accepted_when_the_user_opts_out():
    run = _run(
        {
            **EXTERNAL_DATABASE,
            "items-audit:database_url": "postgresql://migrator:pw@db.example.com/shop",
            "items-audit:database_allow_unverified_tls": "true",
        }
    )
    url = find(run.kubernetes_objects(), "Secret", "items-service")["stringData"]["database-url"]
    assert url.endswith("@db.example.com:5432/shop")


def test_an_external_database_keeps_verify_full_in_every_connection():
    objects = _run(EXTERNAL_DATABASE).kubernetes_objects()
    for service in ("items-service", "audit-service"):
        url = find(objects, "Secret", service)["stringData"]["database-url"]
        assert url.endswith("?sslmode=verify-full&sslrootcert=system"), service
    service_file = find(objects, "Secret", "schema-migrator")["stringData"]["pg_service.conf"]
    assert "sslmode=verify-full\n" in service_file and "sslrootcert=system\n" in service_file


@pytest.mark.parametrize(
    "config",
    [
        {**REMOTE, "items-audit:ingress_tls_secret": "items-tls"},
        {
            **REMOTE,
            "items-audit:items_exposure": "load-balancer",
            "items-audit:load_balancer_source_ranges": ["203.0.113.0/24"],
        },
    ],
    ids=["ingress", "load-balancer"],
)
def test_a_remote_render_is_valid_and_checkov_clean(config, tmp_path):
    stack_file = tmp_path / "Pulumi.remote.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}))
    directory = tmp_path / "rendered"
    render.render(directory, stack_file)
    for path in sorted(directory.glob("*.yaml")):
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(yaml.safe_load(path.read_text()), version, strict=True)
    report = _checkov(directory)
    assert [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]] == []


# The shape of a PEM certificate is all the program checks; libpq reads the rest.
CA_CERTIFICATE = (
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUe3Rlc3Q=\n-----END CERTIFICATE-----\n"
)


def test_a_database_ca_certificate_reaches_every_client_as_the_file_its_url_names():
    objects = _run(
        {**EXTERNAL_DATABASE, "items-audit:database_ca_certificate": CA_CERTIFICATE}
    ).kubernetes_objects()
    for service in ("items-service", "audit-service"):
        data = find(objects, "Secret", service)["stringData"]
        assert data["database-ca.crt"] == CA_CERTIFICATE, service
        assert data["database-url"].endswith(
            "?sslmode=verify-full&sslrootcert=/run/secrets/service/database-ca.crt"
        ), service
    migrator = find(objects, "Secret", "schema-migrator")["stringData"]
    assert migrator["root.crt"] == CA_CERTIFICATE
    assert "sslrootcert=/run/secrets/postgres/root.crt\n" in migrator["pg_service.conf"]
    retention = find(objects, "Secret", "audit-retention-db")["stringData"]
    assert retention["root.crt"] == CA_CERTIFICATE
    assert "sslrootcert=/run/secrets/postgres/root.crt\n" in retention["pg_service.conf"]


@pytest.mark.parametrize(
    "config, message",
    [
        (
            {**EXTERNAL_DATABASE, "items-audit:database_ca_certificate": "not a certificate"},
            "database_ca_certificate must be a PEM certificate",
        ),
        (
            {"items-audit:database_ca_certificate": CA_CERTIFICATE},
            "database_ca_certificate is for an external database",
        ),
    ],
)
def test_a_database_ca_certificate_that_cannot_be_used_stops_the_program(config, message):
    with pytest.raises(Exception, match=re.escape(message)):
        _run(config)
