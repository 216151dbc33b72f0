"""Both service roles' database passwords rotated the way the stack rotates a generated
secret (WRITEUP.md: "Rotation by replacing the random resource": `pulumi up --replace`
of each RandomPassword; the stack has no setting of its own for it), then `make up`:
PostgreSQL refuses the old passwords over TCP with "password authentication failed",
takes the new ones, every pod of both services was replaced, and the new pods serve
the assignment's flow through items_url, audited. The stack keeps the new passwords,
as `make up` leaves it."""

import base64
import time

import requests

from tests.e2e.conftest import wait_until_healthy
from tests.e2e.stack import NAMESPACE
from tests.e2e_pods.node import DATABASE
from tests.e2e_pods.trail import last_audit_row, wait_for_the_trail

# The roles, their password's key in the Secret `database-roles`, and the
# RandomPassword each comes from (infra/credentials.py).
ROLES = {
    "items_service": ("items-password", "items-service-db-password"),
    "audit_service": ("audit-password", "audit-service-db-password"),
}
SERVICES = ("items-service", "audit-service")
# The password comes on stdin, never on a command line another process could read;
# the server is the pod's own address, not loopback, which initdb's pg_hba trusts.
LOGIN = (
    "read -r PGPASSWORD && export PGPASSWORD && exec psql --no-psqlrc --tuples-only --no-align"
    ' "host=$1 dbname=$2 user=$3 connect_timeout=5" --command "SELECT current_user"'
)


def role_passwords(stack) -> dict[str, str]:
    data = stack.kubectl_json("get", "secret", "database-roles", "--namespace", NAMESPACE)["data"]
    return {role: base64.b64decode(data[key]).decode() for role, (key, _) in ROLES.items()}


def service_pods(stack) -> dict[str, str]:
    """{uid: name} of both services' pods, terminating ones included."""
    found = {}
    for service in SERVICES:
        listed = stack.kubectl_json(
            "get", "pods", "--namespace", NAMESPACE, "-l", f"app.kubernetes.io/name={service}"
        )["items"]
        found.update({pod["metadata"]["uid"]: pod["metadata"]["name"] for pod in listed})
    return found


def wait_until_gone(stack, old: dict[str, str], seconds: float = 120) -> None:
    """The old pods drain (preStop sleep, graceful stop: up to their grace period)."""
    deadline = time.monotonic() + seconds
    while left := set(old) & set(service_pods(stack)):
        if time.monotonic() > deadline:
            names = sorted(old[uid] for uid in left)
            raise AssertionError(f"pods with the old passwords still there: {names}")
        time.sleep(1)


def login(node, role: str, password: str):
    """psql in the postgres pod, over TCP to the pod's own address, as `role`."""
    address = node.stack.kubectl(
        "get", "pod", "postgres-0", "--namespace", NAMESPACE, "-o", "jsonpath={.status.podIP}"
    ).check()
    return node.in_postgres(
        "sh",
        "-c",
        LOGIN,
        "login",
        address.stdout.strip(),
        DATABASE,
        role,
        input_text=f"{password}\n",
    )


def test_rotated_database_passwords_refuse_the_old_ones_and_the_new_pods_serve(deployed, node):
    old = role_passwords(deployed)
    for role, password in old.items():
        # The check below can fail: the current password logs in this way.
        assert login(node, role, password).check().stdout.strip() == role
    old_pods = service_pods(deployed)
    urns = {
        resource["urn"].rsplit("::", 1)[1]: resource["urn"]
        for resource in deployed.state_resources()
    }
    replace = [f"--replace={urns[name]}" for _, name in ROLES.values()]

    started = time.monotonic()
    deployed.pulumi("up", "--yes", "--skip-preview", *replace).check()
    deployed.up().check()
    rotated_seconds = time.monotonic() - started
    wait_until_healthy(deployed)

    new = role_passwords(deployed)
    for role in ROLES:
        assert new[role] != old[role], f"{role}: the password did not change"
        refused = login(node, role, old[role])
        assert refused.returncode != 0, f"{role}: the old password still logs in"
        assert f'password authentication failed for user "{role}"' in refused.stderr, refused.stderr
        assert login(node, role, new[role]).check().stdout.strip() == role
    wait_until_gone(deployed, old_pods)

    items_url = deployed.output("items_url")
    audited_before = last_audit_row(node)
    created = requests.post(f"{items_url}/items", json={"name": "after the rotation"}, timeout=10)
    assert created.status_code == 201, created.text
    read = requests.get(f"{items_url}/items/{created.json()['id']}", timeout=10)
    assert read.status_code == 200 and read.json() == created.json()
    request_ids = {created.headers["X-Request-ID"], read.headers["X-Request-ID"]}
    rows = wait_for_the_trail(node, audited_before, request_ids, seconds=60)
    assert {request_id: rows[request_id] for request_id in request_ids} == dict.fromkeys(
        request_ids, 1
    )
    print(f"\npassword rotation: pulumi up --replace and make up in {rotated_seconds:.0f} s")
