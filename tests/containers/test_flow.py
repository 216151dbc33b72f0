"""The assignment's flow through the containers, run as their Deployments run them."""

import json
import uuid

import requests

from tests.containers.docker_cli import SERVICE_PORTS, docker
from tests.containers.stack import CONTAINER_USER
from tests.support.services import wait_for


def test_items_flow_through_the_published_port_records_audit_rows(stack, items_url):
    run = uuid.uuid4().hex[:12]
    name = f"container item {run}"
    created = requests.post(
        f"{items_url}/items",
        json={"name": name, "description": "Testing"},
        headers={"X-Request-ID": f"create-{run}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["Location"].endswith(f"/items/{item['id']}")
    assert {"name": name, "description": "Testing"}.items() <= item.items()

    listed = requests.get(
        f"{items_url}/items",
        params={"limit": 500},
        headers={"X-Request-ID": f"list-{run}"},
        timeout=10,
    )
    assert listed.status_code == 200
    assert item in listed.json()

    # items-service's relay delivers to audit-service, which writes audit_logs.
    def audit_rows():
        return stack.database.query(
            "SELECT request_id, action, status_code FROM audit_logs"
            " WHERE request_id IN (%s, %s) ORDER BY request_id",
            (f"create-{run}", f"list-{run}"),
        )

    rows = wait_for(
        lambda: len(audit_rows()) == 2 and audit_rows(), timeout=30, message="audit rows"
    )
    assert rows == [(f"create-{run}", "item.create", 201), (f"list-{run}", "item.list", 200)]


def test_audit_service_is_reachable_from_items_but_not_published(items_container, audit_container):
    ports = json.loads(
        docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", audit_container)
    )
    # Its service port and its operations port, neither published.
    assert f"{SERVICE_PORTS['audit-service']}/tcp" in ports
    assert set(ports.values()) == {None}
    assert docker("port", audit_container) == ""
    status = docker(
        "exec",
        items_container,
        "python",
        "-c",
        "import urllib.request;"
        " print(urllib.request.urlopen('http://audit-service:8081/healthz', timeout=5).status)",
    )
    assert status == "200"


def test_containers_run_with_the_deployments_restrictions(items_container, audit_container):
    for container in (items_container, audit_container):
        host = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", container))
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert list(host["Tmpfs"]) == ["/tmp"]
        # The restrictions are real: the code and the root filesystem cannot be written.
        result = docker("exec", container, "sh", "-c", "touch /app/x /x 2>&1; id -u", check=False)
        assert "Read-only file system" in result
        assert result.splitlines()[-1] == str(CONTAINER_USER)
        # gunicorn is PID 1 (exec form), so docker stop's SIGTERM reaches it.
        assert "gunicorn" in docker("exec", container, "cat", "/proc/1/cmdline")


def test_docker_healthcheck_passes_in_running_containers(items_container, audit_container):
    for container in (items_container, audit_container):
        test = json.loads(
            docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}", container)
        )
        assert test[0] == "CMD"
        docker("exec", container, *test[1:])


def test_containers_start_and_serve_without_logging_errors(
    stack, items_url, items_container, audit_container
):
    """A read-only root must not cost the services anything they would log as an error."""
    requests.get(f"{items_url}/items", timeout=10)
    for container in (items_container, audit_container):
        errors = [
            line
            for line in stack.logs(container, "all").splitlines()
            if line.startswith("{") and json.loads(line).get("level") in ("ERROR", "CRITICAL")
        ]
        assert errors == [], container
