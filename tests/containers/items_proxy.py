"""The items pod as its Deployment runs it (tests/containers/as_deployed.py reads
the rendered Deployment): items-service's container, listening on loopback only,
and the proxy container in front of it in the same network namespace (a pod's),
publishing the pod's port, each with its pod's user, read-only root, emptyDirs,
capabilities, limits, command and environment.

The upstream nginx image cannot be pulled here, so the proxy runs a stand-in
built from Debian's nginx (tests/containers/items-proxy.Dockerfile)."""

from dataclasses import dataclass

from tests.containers import as_deployed
from tests.containers.docker_cli import BASE_IMAGE, REPOSITORY, docker
from tests.containers.stack import ContainerStack

PROXY_IMAGE = "items-audit-test/items-proxy:latest"
PROXY_DOCKERFILE = REPOSITORY / "tests" / "containers" / "items-proxy.Dockerfile"
PROXY = as_deployed.container("items-service", "items-service-proxy")
CONFIG_DIRECTORY = next(
    mount["mountPath"] for mount in PROXY["volumeMounts"] if mount["name"] == "proxy-config"
)
PORTS = {port["name"]: port["containerPort"] for port in PROXY["ports"]}
PUBLIC_PORT = PORTS["http"]
PROXY_HEALTH_PORT = PORTS["proxy-health"]
# Where the pod's gunicorn listens, on loopback.
GUNICORN_PORT = int(as_deployed.environment("items-service")["PORT"])


def build_proxy_image() -> None:
    docker(
        "build",
        # apt in the build reaches Debian's mirror through the host's network.
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        "--file",
        str(PROXY_DOCKERFILE),
        "--tag",
        PROXY_IMAGE,
        str(REPOSITORY / "items-proxy"),
        timeout=600,
    )


@dataclass(frozen=True)
class ItemsPod:
    items: str  # container names
    proxy: str
    url: str  # the pod's public port, published on the host's loopback
    proxy_health_url: str


def run_items_pod(stack: ContainerStack, name: str = "items-pod") -> ItemsPod:
    items = stack.run(
        "items-service",
        name,
        [
            # The pod's network namespace is the items container's: ports are published here.
            "--publish",
            f"127.0.0.1::{PUBLIC_PORT}",
            "--publish",
            f"127.0.0.1::{PROXY_HEALTH_PORT}",
        ],
    )
    proxy = f"{name}-proxy-{stack.run_id}"
    docker(
        "run",
        "--detach",
        "--name",
        proxy,
        "--network",
        f"container:{items}",
        *as_deployed.run_arguments("items-service", "items-service-proxy"),
        "--volume",
        f"{REPOSITORY / 'items-proxy'}:{CONFIG_DIRECTORY}:ro",
        PROXY_IMAGE,
        *PROXY["command"],
    )
    # Removed before the container whose network namespace it shares.
    stack.containers.insert(stack.containers.index(items), proxy)
    url = stack.published_url(items, PUBLIC_PORT)
    stack.wait_until_ready(url, proxy)
    return ItemsPod(items, proxy, url, f"{stack.published_url(items, PROXY_HEALTH_PORT)}/healthz")
