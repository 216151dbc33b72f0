"""The stack's configuration, read once into a typed, validated object.

Every key is optional and its default lives here once, as the field's default;
the defaults deploy to the local kind cluster that `make up` creates from
kind/cluster.yaml. docs/configuration.md (Stack settings) documents each key.
"""

import dataclasses
import os
import re
from dataclasses import dataclass

import pulumi

PROJECT = "items-audit"

# Where the images go and how the cluster reaches them.
CLUSTER_KINDS = ("kind", "minikube", "docker-desktop", "remote")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# The NodePorts of the three published Services: fixed, because kind/cluster.yaml
# maps them to the host ports below.
ITEMS_NODE_PORT = 30080
GRAFANA_NODE_PORT = 30300
PROMETHEUS_NODE_PORT = 30090
KIND_HOST_PORTS = {ITEMS_NODE_PORT: 8080, GRAFANA_NODE_PORT: 3000, PROMETHEUS_NODE_PORT: 9090}

# A namespace name is an RFC 1123 DNS label; a size a Kubernetes quantity in bytes.
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
STORAGE_SIZE = re.compile(r"([1-9][0-9]*)(Ki|Mi|Gi|Ti)")
STORAGE_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
IMAGE_BY_DIGEST = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")

# audit_logs_delete_expired (database/0002_audit_retention.sql) refuses less than a day.
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650

# Keys whose value is a secret (`pulumi config set --secret`).
SECRET_KEYS = frozenset({"registry_password", "database_url"})


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
    # A superuser URL of an external PostgreSQL (secret); None runs PostgreSQL in the cluster.
    database_url: pulumi.Output | None = None
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
    # Host name the node ports are reached at (e.g. `minikube ip`).
    public_host: str = "localhost"

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
        return f"http://{self.public_host}:{self.public_port(node_port)}"


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
    return StackConfig(**settings)


def _read(config: pulumi.Config, name: str, type_) -> object:
    if name in SECRET_KEYS:
        return config.get_secret(name)
    if type_ is int:
        return config.get_int(name)
    if type_ is bool:
        return config.get_bool(name)
    return config.get(name)
