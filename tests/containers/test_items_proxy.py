"""The items pod with its proxy (items-proxy/nginx.conf), run as deployed: the
proxy works hardened, the client's address reaches the audit trail, gunicorn
is out of reach but through the proxy, and slow clients do not starve it."""

import uuid

import pytest
import requests

from tests.containers.docker_cli import docker, docker_result
from tests.containers.items_proxy import (
    GUNICORN_PORT,
    PUBLIC_PORT,
    ItemsPod,
    build_proxy_image,
    run_items_pod,
)
from tests.containers.stack import CONTAINER_USER
from tests.support.services import wait_for
from tests.support.slow_clients import SlowClients, unanswered

TRICKLING = 50
IDLE = 100
ATTACK_SECONDS = 20
ANSWER_WITHIN_SECONDS = 1.0


@pytest.fixture(scope="module")
def pod(stack, audit_container) -> ItemsPod:
    build_proxy_image()
    return run_items_pod(stack)


def nginx_processes(container: str) -> list[dict[str, str]]:
    """/proc/<pid>/status of the nginx master and workers, as seen in the container."""
    statuses = docker("exec", container, "sh", "-c", "cat /proc/[0-9]*/status")
    processes = []
    for block in statuses.split("Name:\t")[1:]:
        fields = dict(line.split(":\t", 1) for line in block.splitlines()[1:] if ":\t" in line)
        if block.startswith("nginx"):
            processes.append(fields)
    return processes


def test_the_proxy_serves_as_a_hardened_container(pod):
    created = requests.post(f"{pod.url}/items", json={"name": "through the proxy"}, timeout=10)

    assert created.status_code == 201
    assert requests.get(f"{pod.url}{created.headers['Location']}", timeout=10).ok
    assert requests.get(pod.proxy_health_url, timeout=5).json() == {"status": "ok"}
    processes = nginx_processes(pod.proxy)
    assert len(processes) >= 2, "a master and its worker"
    for status in processes:
        assert status["Uid"].split() == [str(CONTAINER_USER)] * 4, status
        assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
        assert status["NoNewPrivs"] == "1"
    write = docker_result("exec", pod.proxy, "touch", "/etc/nginx/written")
    assert write.returncode != 0 and "Read-only file system" in write.stderr


def test_the_audit_trail_records_the_client_and_the_proxys_request_id(pod, stack):
    forged = f"pod-client-{uuid.uuid4().hex}"
    response = requests.post(
        f"{pod.url}/items",
        json={"name": "where from"},
        headers={"X-Request-ID": forged, "X-Forwarded-For": "6.6.6.6"},
        timeout=10,
    )
    assert response.status_code == 201
    request_id = response.headers["X-Request-ID"]
    assert request_id != forged, "the proxy's own id, not the client's"

    recorded = wait_for(
        lambda: stack.database.query(
            "SELECT host(client_ip) FROM audit_logs WHERE request_id = %s", (request_id,)
        ),
        timeout=30,
        message="the event",
    )
    gateway = docker(
        "network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", stack.network
    )
    # Published on the host, the pod sees the host as its network's gateway.
    assert recorded == [(gateway,)]


def test_gunicorn_is_reachable_only_through_the_proxy(pod, stack, audit_container):
    address = docker(
        "inspect",
        "--format",
        f'{{{{(index .NetworkSettings.Networks "{stack.network}").IPAddress}}}}',
        pod.items,
    )

    def connect(port: int) -> int:
        probe = f"import socket; socket.create_connection(('{address}', {port}), timeout=3)"
        return docker_result("exec", audit_container, "python", "-c", probe).returncode

    assert connect(PUBLIC_PORT) == 0, "the pod's port is open to its network"
    assert connect(GUNICORN_PORT) != 0, "gunicorn listens on the pod's loopback only"


def test_slow_clients_do_not_starve_the_pod(pod):
    host, port = pod.url.removeprefix("http://").rsplit(":", 1)
    with SlowClients(host, int(port), TRICKLING, IDLE) as attack:
        wait_for(
            lambda: attack.open_connections() == TRICKLING + IDLE,
            message="every attacking connection to be open",
        )
        sent, failed = unanswered(
            [
                ("GET", f"{pod.url}/healthz", None),
                ("GET", pod.proxy_health_url, None),
                ("POST", f"{pod.url}/items", {"name": "served"}),
                ("GET", f"{pod.url}/items?limit=5", None),
            ],
            ATTACK_SECONDS,
            ANSWER_WITHIN_SECONDS,
        )

    assert failed == [], f"{len(failed)} of {sent} not answered in time"
    for container in (pod.items, pod.proxy):
        state = docker("inspect", "--format", "{{.RestartCount}} {{.State.Running}}", container)
        assert state == "0 true", container
