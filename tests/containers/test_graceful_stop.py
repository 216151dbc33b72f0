"""docker stop (SIGTERM, as Kubernetes sends) while requests are in flight: every
request the service had accepted is answered, and it exits 0 within its grace period.

Clients connect to the container's own address (no port-publishing proxy in
between), so that the server's side of each held connection can be seen in the
container's TCP table. A request that gets no answer (refused, or reset while it
still waited in the listen backlog) must have left no trace in the service: each
carries a name and request id of its own, looked for in the database and the
access log."""

import json
import socket
import threading
import uuid

import pytest
import requests

from tests.containers.docker_cli import SERVICE_PORTS, docker
from tests.containers.stack import GRACE_PERIOD_SECONDS
from tests.support.services import wait_for

HELD_REQUESTS = 4
BURST_CLIENTS = 4
ESTABLISHED = "01"


class HeldPost:
    """A POST /items whose headers and most of the body are sent now, the rest on finish()."""

    def __init__(self, host: str, port: int, name: str):
        self.body = json.dumps({"name": name}).encode()
        self.socket = socket.create_connection((host, port), timeout=30)
        self.local_port = self.socket.getsockname()[1]
        head = (
            f"POST /items HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.socket.sendall(head + self.body[:-4])

    def finish(self) -> int | str:
        """Send the rest of the body; returns the response's status code, or what went wrong."""
        response = b""
        try:
            self.socket.sendall(self.body[-4:])
            while chunk := self.socket.recv(65536):
                response += chunk
        except OSError as error:
            return f"connection error: {error}"
        finally:
            self.socket.close()
        return int(response.split(b" ", 2)[1]) if response else "closed without a response"


def read_by_the_server(container: str, port: int, client_ports: set[int]) -> bool:
    """Whether gunicorn has taken each of these connections and read what was sent:
    its socket is established with nothing left unread. A connection still in the
    listen backlog, never accepted, keeps its data in the receive queue."""
    pid = docker("inspect", "--format", "{{.State.Pid}}", container)
    seen = set()
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            unread = int(fields[4].split(":")[1], 16)
            if local_port == port and remote_port in client_ports:
                if fields[3] != ESTABLISHED or unread:
                    return False
                seen.add(remote_port)
    return seen == client_ports


def burst(url: str, prefix: str, stopped: threading.Event, outcomes: dict) -> None:
    """Creates items one after the other until `stopped`, each with a name (and a
    request id) of its own; records what each got."""
    with requests.Session() as session:
        number = 0
        while not stopped.is_set():
            number += 1
            name = f"{prefix}-{number}"
            try:
                response = session.post(
                    f"{url}/items",
                    json={"name": name},
                    headers={"Connection": "close", "X-Request-ID": name},
                    timeout=30,
                )
                outcomes[name] = response.status_code
            except requests.ConnectionError as error:
                outcomes[name] = f"no answer: {error}"


@pytest.mark.usefixtures("audit_container")
def test_docker_stop_during_a_burst_answers_every_accepted_request_and_exits_0(stack):
    container = stack.run_items(name="items-drain")
    port = SERVICE_PORTS["items-service"]
    address = docker(
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    )
    url = f"http://{address}:{port}"
    stack.wait_until_ready(url, container)
    run = f"drain-{uuid.uuid4().hex[:8]}"

    stopped = threading.Event()
    outcomes: dict = {}
    clients = [
        threading.Thread(target=burst, args=(url, f"{run}-{client}", stopped, outcomes))
        for client in range(BURST_CLIENTS)
    ]
    for client in clients:
        client.start()
    # However the test ends, the clients stop: a failure above would otherwise leave
    # them posting forever and the test run unable to exit.
    try:
        wait_for(
            lambda: list(outcomes.values()).count(201) >= 20, message="the burst to be under way"
        )
        held = [HeldPost(address, port, f"{run}-held") for _ in range(HELD_REQUESTS)]
        wait_for(
            lambda: read_by_the_server(container, port, {request.local_port for request in held}),
            message="gunicorn to be reading every held request",
        )

        stop = {}

        def docker_stop():
            stop["result"] = docker(
                "stop",
                "--time",
                str(GRACE_PERIOD_SECONDS),
                container,
                timeout=GRACE_PERIOD_SECONDS + 30,
            )

        stopper = threading.Thread(target=docker_stop)
        stopper.start()
        wait_for(
            lambda: "Handling signal: term" in stack.logs(container, "all"),
            timeout=10,
            message="SIGTERM",
        )
        held_statuses = [request.finish() for request in held]
    finally:
        stopped.set()
        for client in clients:
            client.join(GRACE_PERIOD_SECONDS + 30)
    stopper.join(GRACE_PERIOD_SECONDS + 30)

    assert held_statuses == [201] * HELD_REQUESTS
    # 0, not 137: gunicorn exited by itself, before docker stop's timeout would kill it.
    assert "result" in stop
    assert docker("inspect", "--format", "{{.State.ExitCode}}", container) == "0"
    stored = dict(
        stack.database.query(
            "SELECT name, count(*) FROM items WHERE name LIKE %s GROUP BY name", (f"{run}-%",)
        )
    )
    assert stored.pop(f"{run}-held") == HELD_REQUESTS
    answered = {name for name, outcome in outcomes.items() if outcome == 201}
    assert stored == dict.fromkeys(answered, 1), "every stored item was answered, once"
    log = stack.logs(container, "all")
    unanswered = {name: outcome for name, outcome in outcomes.items() if outcome != 201}
    assert all(isinstance(outcome, str) for outcome in unanswered.values()), unanswered
    assert [name for name in unanswered if f'"request_id": "{name}"' in log] == [], (
        "a request the service took was never answered"
    )
