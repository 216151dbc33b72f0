"""The items pod as its Deployment should run it (items-proxy/nginx.conf):
items-service's container, listening on loopback only, and the proxy container
in front of it in the same network namespace (a pod's), publishing the pod's
port. Both run hardened: user 10001, read-only root, a tmpfs /tmp, no
capabilities, no privilege escalation.

The upstream nginx image cannot be pulled here, so the proxy runs a stand-in
built from Debian's nginx (tests/containers/items-proxy.Dockerfile)."""

from dataclasses import dataclass

from tests.containers.docker_cli import BASE_IMAGE, REPOSITORY, SERVICE_PORTS, docker
from tests.containers.stack import CONTAINER_GROUP, CONTAINER_USER, ContainerStack

PROXY_IMAGE = "items-audit-test/items-proxy:latest"
PROXY_DOCKERFILE = REPOSITORY / "tests" / "containers" / "items-proxy.Dockerfile"
CONFIG_DIRECTORY = "/etc/nginx/items-proxy"
# The proxy container's command in the pod: every path nginx writes is under
# -p, the writable /tmp; -e: the error log before the configuration is read.
PROXY_COMMAND = ["nginx", "-p", "/tmp/", "-c", f"{CONFIG_DIRECTORY}/nginx.conf", "-e", "stderr"]
PUBLIC_PORT = 8080
PROXY_HEALTH_PORT = 8090
GUNICORN_PORT = 8000
# The items container's settings behind the proxy.
ITEMS_BEHIND_PROXY = {
    "PORT": str(GUNICORN_PORT),
    "BIND_ADDRESS": "127.0.0.1",
    "TRUSTED_PROXY_COUNT": "1",
    "AUDIT_SERVICE_URL": f"http://audit-service:{SERVICE_PORTS['audit-service']}",
}
# The proxy container's securityContext and limits, as proposed for the pod.
PROXY_AS_DEPLOYED = [
    "--user",
    f"{CONTAINER_USER}:{CONTAINER_GROUP}",
    "--read-only",
    "--tmpfs",
    "/tmp:rw,noexec,nosuid,size=16m",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--memory",
    "64m",
    "--cpus",
    "0.25",
]


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
        ITEMS_BEHIND_PROXY,
    )
    proxy = f"{name}-proxy-{stack.run_id}"
    docker(
        "run",
        "--detach",
        "--name",
        proxy,
        "--network",
        f"container:{items}",
        *PROXY_AS_DEPLOYED,
        "--volume",
        f"{REPOSITORY / 'items-proxy'}:{CONFIG_DIRECTORY}:ro",
        PROXY_IMAGE,
        *PROXY_COMMAND,
    )
    # Removed before the container whose network namespace it shares.
    stack.containers.insert(stack.containers.index(items), proxy)
    url = stack.published_url(items, PUBLIC_PORT)
    stack.wait_until_ready(url, proxy)
    return ItemsPod(items, proxy, url, f"{stack.published_url(items, PROXY_HEALTH_PORT)}/healthz")
