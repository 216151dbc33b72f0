"""The stack's configuration, read once into a typed, validated object.

Every key is optional; the defaults deploy to the local kind cluster that
`make up` creates from kind/cluster.yaml. `infra/README-deploy.md` documents them.
"""

from dataclasses import dataclass

import pulumi

# Where the images go and how the cluster reaches them.
CLUSTER_KINDS = ("kind", "minikube", "docker-desktop", "remote")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

# kind/cluster.yaml maps these node ports to the host ports below.
KIND_HOST_PORTS = {30080: 8080, 30300: 3000, 30090: 9090}


@dataclass(frozen=True)
class NodePorts:
    items: int = 30080
    grafana: int = 30300
    prometheus: int = 30090


@dataclass(frozen=True)
class StackConfig:
    namespace: str = "items-audit"
    cluster: str = "kind"
    kind_cluster_name: str = "items-audit"
    # The kubeconfig context to deploy to; None means the current context.
    kube_context: str | None = "kind-items-audit"
    # For cluster "remote": images are pushed to IMAGE_REGISTRY/items-service etc.
    image_registry: str | None = None
    registry_username: str | None = None
    registry_password: pulumi.Output | None = None
    # Base image for the service Dockerfiles' PYTHON_IMAGE build argument (None: their default).
    python_image: str | None = None
    items_replicas: int = 2
    audit_replicas: int = 2
    log_level: str = "info"
    # A superuser URL of an external PostgreSQL (secret); None runs PostgreSQL in the cluster.
    database_url: pulumi.Output | None = None
    postgres_storage: str = "1Gi"
    storage_class: str | None = None
    monitoring: bool = True
    node_ports: NodePorts = NodePorts()
    # Host name the node ports are reached at (e.g. `minikube ip`).
    public_host: str = "localhost"

    def __post_init__(self):
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
        if self.items_replicas < 2:
            raise ValueError(
                "items_replicas must be at least 2: a rolling update or a drain keeps one serving"
            )
        if self.audit_replicas < 1:
            raise ValueError("audit_replicas must be at least 1")

    def public_port(self, node_port: int) -> int:
        """The port a browser on the host uses for a NodePort Service."""
        if self.cluster == "kind":
            return KIND_HOST_PORTS[node_port]
        return node_port

    def public_url(self, node_port: int) -> str:
        return f"http://{self.public_host}:{self.public_port(node_port)}"


def load() -> StackConfig:
    config = pulumi.Config()
    cluster = config.get("cluster") or "kind"
    kind_cluster_name = config.get("kind_cluster_name") or "items-audit"
    default_context = f"kind-{kind_cluster_name}" if cluster == "kind" else None
    return StackConfig(
        namespace=config.get("namespace") or "items-audit",
        cluster=cluster,
        kind_cluster_name=kind_cluster_name,
        kube_context=config.get("kube_context") or default_context,
        image_registry=config.get("image_registry"),
        registry_username=config.get("registry_username"),
        registry_password=config.get_secret("registry_password"),
        python_image=config.get("python_image"),
        items_replicas=config.get_int("items_replicas") or 2,
        audit_replicas=config.get_int("audit_replicas") or 2,
        log_level=config.get("log_level") or "info",
        database_url=config.get_secret("database_url"),
        postgres_storage=config.get("postgres_storage") or "1Gi",
        storage_class=config.get("storage_class"),
        monitoring=config.get_bool("monitoring") is not False,
        public_host=config.get("public_host") or "localhost",
    )
