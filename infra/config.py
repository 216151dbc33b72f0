"""The stack's configuration, read once into a typed, validated object.

Every key is optional and its default lives here once, as the field's default;
the defaults deploy to the local kind cluster that `make up` creates from
kind/cluster.yaml. docs/configuration.md (Stack settings) documents each key.
"""

import dataclasses
import ipaddress
import json
import os
import re
from dataclasses import dataclass

import pulumi

from infra import database

PROJECT = "items-audit"

# Where the images go and how the cluster reaches them.
CLUSTER_KINDS = ("kind", "minikube", "docker-desktop", "remote")
# Clusters on the user's own machine: their node ports are reached from it only.
LOCAL_CLUSTERS = ("kind", "minikube", "docker-desktop")
# How users reach items-service: fixed node ports (local clusters, whose URLs and
# kind/cluster.yaml's port mappings need them), an Ingress in front of a ClusterIP
# Service, or a cloud load balancer.
ITEMS_EXPOSURES = ("node-port", "ingress", "load-balancer")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# The NodePorts of the three published Services: fixed, because kind/cluster.yaml
# maps them to the host ports below.
ITEMS_NODE_PORT = 30080
GRAFANA_NODE_PORT = 30300
PROMETHEUS_NODE_PORT = 30090
KIND_HOST_PORTS = {ITEMS_NODE_PORT: 8080, GRAFANA_NODE_PORT: 3000, PROMETHEUS_NODE_PORT: 9090}

# A namespace name is an RFC 1123 DNS label; a size a Kubernetes quantity in bytes.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_NAME = re.compile(rf"(?=.*[a-z-])({DNS_LABEL.pattern}\.)*{DNS_LABEL.pattern}")
STORAGE_SIZE = re.compile(r"([1-9][0-9]*)(Ki|Mi|Gi|Ti)")
STORAGE_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
IMAGE_BY_DIGEST = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")
PEM_CERTIFICATE = re.compile(
    r"(-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----\s*)+"
)

# audit_logs_delete_expired (database/0002_audit_retention.sql) refuses less than a day.
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650

# Keys whose value is a secret (`pulumi config set --secret`).
SECRET_KEYS = frozenset({"registry_password", "database_url"})
# Keys whose value is a list of CIDRs: a JSON list (`pulumi config set --path
# 'KEY[0]' CIDR`) or one string of comma-separated CIDRs.
CIDR_LIST = tuple[str, ...] | None


@dataclass(frozen=True)
class StackConfig:
    namespace: str = "items-audit"
    cluster: str = "kind"
    kind_cluster_name: str = "items-audit"
    # The kubeconfig file (one path); unset: the first file of $KUBECONFIG, else
    # ~/.kube/config.
    kubeconfig: str | None = None
    # The kubeconfig context to deploy to; unset: kind-<kind_cluster_name> on kind,
    # else the kubeconfig's current context.
    kube_context: str | None = None
    # For cluster "remote": images are pushed to IMAGE_REGISTRY/items-service etc.
    image_registry: str | None = None
    registry_username: str | None = None
    registry_password: pulumi.Output | None = None
    # Base image for the service Dockerfiles' PYTHON_IMAGE build argument (None: their default).
    python_image: str | None = None
    # os/arch of the images pushed for cluster "remote" (local clusters get the engine's own).
    image_platform: str = "linux/amd64"
    # Images built once by CI, as REGISTRY/NAME@sha256:DIGEST: deployed as they are,
    # nothing is built.
    items_image: str | None = None
    audit_image: str | None = None
    items_replicas: int = 2
    audit_replicas: int = 2
    log_level: str = "info"
    # The URL of an external PostgreSQL's migration role (secret): the owner of the
    # database, allowed to create roles, not a superuser. None runs PostgreSQL in the cluster.
    database_url: pulumi.Output | None = None
    # The external database's addresses: the only ones its clients may connect to.
    database_cidrs: CIDR_LIST = None
    # An external database_url must verify the server (sslmode=verify-full) unless this is true.
    database_allow_unverified_tls: bool = False
    # The CA certificate (PEM) that signed the external server's certificate, given
    # to its clients as a file (sslrootcert); None: what database_url says.
    database_ca_certificate: str | None = None
    postgres_storage: str = "1Gi"
    # Days an audit event is kept in audit_logs before the audit-retention CronJob
    # deletes it (DESIGN §4). The volume must hold this many days of events.
    audit_retention_days: int = 7
    storage_class: str | None = None
    monitoring: bool = True
    # PodMonitors and a PrometheusRule for a cluster that runs the Prometheus Operator
    # (kube-prometheus-stack), whose Prometheus runs in prometheus_operator_namespace
    # and selects objects labelled release=<prometheus_operator_release> when set.
    prometheus_operator: bool = False
    prometheus_operator_namespace: str = "monitoring"
    prometheus_operator_release: str | None = None
    # Host name users reach items at: the node ports' host on a local cluster
    # (default localhost; e.g. `minikube ip`), the Ingress's host name, or a name
    # pointing at the load balancer.
    public_host: str | None = None
    # node-port on local clusters (the default there); ingress (the default on a
    # remote cluster) or load-balancer elsewhere.
    items_exposure: str | None = None
    # The Ingress's class (None: the cluster's default class) and the TLS Secret
    # (kubernetes.io/tls, in the namespace) it serves HTTPS with.
    ingress_class: str | None = None
    ingress_tls_secret: str | None = None
    # Who may connect to the load balancer: required with items_exposure load-balancer.
    load_balancer_source_ranges: CIDR_LIST = None
    # Prometheus and Grafana on node ports, open to every source; default: on a
    # local cluster only. Otherwise they are reached by `kubectl port-forward`.
    monitoring_node_ports: bool | None = None
    # The API server's addresses for Prometheus' egress; None: read from the
    # cluster's `kubernetes` EndpointSlice at deploy time.
    api_server_cidrs: CIDR_LIST = None

    def __post_init__(self):
        if not DNS_LABEL.fullmatch(self.namespace):
            raise ValueError(
                f"namespace must be a lowercase DNS label (a-z, 0-9, '-'), not {self.namespace!r}"
            )
        if not STORAGE_SIZE.fullmatch(self.postgres_storage):
            raise ValueError(
                f"postgres_storage must be a size like 1Gi or 512Mi, not {self.postgres_storage!r}"
            )
        if self.cluster not in CLUSTER_KINDS:
            raise ValueError(
                f"cluster must be one of {', '.join(CLUSTER_KINDS)}, not {self.cluster!r}"
            )
        if self.cluster == "remote" and not self.image_registry:
            raise ValueError(
                "cluster 'remote' needs image_registry: the cluster pulls the images from it"
            )
        if self.log_level not in LOG_LEVELS:
            raise ValueError(
                f"log_level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            )
        for setting in ("items_image", "audit_image"):
            reference = getattr(self, setting)
            if reference is not None and not IMAGE_BY_DIGEST.fullmatch(reference):
                raise ValueError(
                    f"{setting} must name an image by digest (REGISTRY/NAME@sha256:<64 hex>),"
                    f" not {reference!r}"
                )
        if self.items_replicas < 2:
            raise ValueError(
                "items_replicas must be at least 2: a rolling update or a drain keeps one serving"
            )
        if not MIN_RETENTION_DAYS <= self.audit_retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(
                f"audit_retention_days must be from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS},"
                f" not {self.audit_retention_days}"
            )
        if self.audit_replicas < 1:
            raise ValueError("audit_replicas must be at least 1")
        self._check_exposure()
        for setting in ("database_cidrs", "load_balancer_source_ranges", "api_server_cidrs"):
            for cidr in getattr(self, setting) or ():
                _check_cidr(setting, cidr, every_address_allowed=setting.startswith("load_"))
        if self.database_url is not None and not self.database_cidrs:
            raise ValueError(
                "an external database_url needs database_cidrs: the address ranges of the"
                " database server (e.g. 10.0.12.0/24), the only ones its clients may reach"
            )
        for setting in ("database_cidrs", "database_ca_certificate"):
            if self.database_url is None and getattr(self, setting):
                raise ValueError(f"{setting} is for an external database: set database_url too")
        if self.database_ca_certificate and not PEM_CERTIFICATE.fullmatch(
            self.database_ca_certificate.strip()
        ):
            raise ValueError(
                "database_ca_certificate must be a PEM certificate (-----BEGIN CERTIFICATE-----"
                " ... -----END CERTIFICATE-----, one or more)"
            )

    def _check_exposure(self) -> None:
        exposure = self.exposure
        if exposure not in ITEMS_EXPOSURES:
            raise ValueError(
                f"items_exposure must be one of {', '.join(ITEMS_EXPOSURES)}, not {exposure!r}"
            )
        if exposure == "node-port" and not self.local:
            raise ValueError(
                "items_exposure 'node-port' is for local clusters: on cluster 'remote' it would"
                " open a fixed port on every node to every source; use ingress or load-balancer"
            )
        if exposure == "ingress" and not self.public_host:
            raise ValueError(
                "items_exposure 'ingress' needs public_host: the host name the Ingress answers for"
            )
        if exposure == "ingress" and not DNS_NAME.fullmatch(self.public_host):
            raise ValueError(
                "items_exposure 'ingress' needs public_host to be a DNS name (an Ingress rule"
                f" cannot name an address or a port), not {self.public_host!r}"
            )
        if exposure == "load-balancer" and not self.load_balancer_source_ranges:
            raise ValueError(
                "items_exposure 'load-balancer' needs load_balancer_source_ranges: the address"
                " ranges that may connect (0.0.0.0/0 and ::/0 for the whole Internet, said"
                " explicitly)"
            )
        if self.load_balancer_source_ranges and exposure != "load-balancer":
            raise ValueError("load_balancer_source_ranges is for items_exposure 'load-balancer'")
        for setting in ("ingress_class", "ingress_tls_secret"):
            if getattr(self, setting) and exposure != "ingress":
                raise ValueError(f"{setting} is for items_exposure 'ingress'")

    @property
    def local(self) -> bool:
        """Whether the cluster runs on the user's machine (not reachable from elsewhere)."""
        return self.cluster in LOCAL_CLUSTERS

    @property
    def exposure(self) -> str:
        """How users reach items-service (items_exposure or the cluster's default)."""
        if self.items_exposure is not None:
            return self.items_exposure
        return "node-port" if self.local else "ingress"

    @property
    def monitoring_published(self) -> bool:
        """Whether Prometheus and Grafana get node ports (monitoring_node_ports or the
        cluster's default: only a local cluster's)."""
        if self.monitoring_node_ports is not None:
            return self.monitoring_node_ports
        return self.local

    @property
    def host(self) -> str:
        return self.public_host or "localhost"

    @property
    def postgres_storage_bytes(self) -> int:
        number, unit = STORAGE_SIZE.fullmatch(self.postgres_storage).groups()
        return int(number) * STORAGE_UNITS[unit]

    @property
    def context(self) -> str | None:
        """The kubeconfig context the provider uses (None: the current context)."""
        if self.kube_context is None and self.cluster == "kind":
            return f"kind-{self.kind_cluster_name}"
        return self.kube_context

    @property
    def kubeconfig_file(self) -> str:
        """The one kubeconfig file the provider reads."""
        if self.kubeconfig:
            return os.path.expanduser(self.kubeconfig)
        listed = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        return os.path.expanduser(listed or "~/.kube/config")

    def public_port(self, node_port: int) -> int:
        """The port a browser on the host uses for a NodePort Service."""
        if self.cluster == "kind":
            return KIND_HOST_PORTS[node_port]
        return node_port

    def public_url(self, node_port: int) -> str:
        return f"http://{self.host}:{self.public_port(node_port)}"


def _check_cidr(setting: str, cidr: str, every_address_allowed: bool) -> None:
    try:
        network = ipaddress.ip_network(cidr)
    except ValueError as error:
        raise ValueError(
            f"{setting}: {cidr!r} is not a CIDR such as 10.0.12.0/24 ({error})"
        ) from None
    if network.prefixlen == 0 and not every_address_allowed:
        raise ValueError(f"{setting}: {cidr} is every address; name the server's own addresses")


def load() -> StackConfig:
    """The stack's settings; a key that is not one of them stops the program, so
    that a misspelt key is not silently ignored."""
    config = pulumi.Config()
    fields = {field.name: field for field in dataclasses.fields(StackConfig)}
    given = {*pulumi.runtime.config.CONFIG.get(), *pulumi.runtime.config.get_config_env()}
    unknown = sorted(
        key.split(":", 1)[1]
        for key in given
        if key.startswith(f"{PROJECT}:") and key.split(":", 1)[1] not in fields
    )
    if unknown:
        raise ValueError(f"unknown stack setting(s): {', '.join(unknown)}")
    settings = {}
    for name, field in fields.items():
        value = _read(config, name, field.type)
        if value is not None:
            settings[name] = value
    loaded = StackConfig(**settings)
    # Checked here too, not only where the program reads the secret's value: a
    # refused URL then stops the program before it registers anything.
    url = pulumi.runtime.config.get_config(f"{PROJECT}:database_url")
    if url is not None:
        database.parse_external_url(url, loaded.database_allow_unverified_tls)
    return loaded


def _read(config: pulumi.Config, name: str, type_) -> object:
    if name in SECRET_KEYS:
        return config.get_secret(name)
    if type_ is int:
        return config.get_int(name)
    if type_ in (bool, bool | None):
        return config.get_bool(name)
    if type_ == CIDR_LIST:
        return _cidr_list(name, config.get(name))
    return config.get(name)


def _cidr_list(name: str, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.lstrip().startswith("["):
        listed = json.loads(value)
        if not all(isinstance(item, str) for item in listed):
            raise ValueError(f"{name} must be a list of CIDRs (strings), not {value}")
        return tuple(item.strip() for item in listed)
    return tuple(item.strip() for item in value.split(",") if item.strip())
