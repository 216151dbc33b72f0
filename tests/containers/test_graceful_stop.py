"""docker stop (SIGTERM, as Kubernetes sends) while requests are in flight."""

import json
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import requests

from tests.containers.docker_cli import SERVICE_PORTS, docker
from tests.containers.stack import GRACE_PERIOD_SECONDS
from tests.support.services import wait_for

HELD_REQUESTS = 4
BURST_CLIENTS = 4
BURST_LIMIT = 300  # requests per client, at most


class HeldPost:
    """A POST /items whose headers and most of the body are sent now, the rest on finish():
    a request the server has accepted and is still reading when SIGTERM arrives."""

    def __init__(self, host: str, port: int, name: str):
        self.body = json.dumps({"name": name}).encode()
        self.socket = socket.create_connection((host, port), timeout=30)
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


def burst(url: str, name: str, stopped: threading.Event, outcomes: list) -> None:
    with requests.Session() as session:
        for _ in range(BURST_LIMIT):
            if stopped.is_set():
                return
            try:
                response = session.post(
                    f"{url}/items", json={"name": name}, headers={"Connection": "close"}, timeout=30
                )
                outcomes.append(response.status_code)
            except requests.ConnectionError:
                # Refused or reset before the service took it: not accepted.
                outcomes.append("not accepted")
                time.sleep(0.05)


def test_docker_stop_during_a_burst_completes_accepted_requests_and_exits_0(stack, audit_container):
    container = stack.run_items(name="items-drain")
    url = stack.published_url(container, SERVICE_PORTS["items-service"])
    stack.wait_until_ready(url, container)
    address = urlsplit(url)
    name = f"drain-{uuid.uuid4().hex[:8]}"

    stopped = threading.Event()
    outcomes: list = []
    clients = [
        threading.Thread(target=burst, args=(url, name, stopped, outcomes))
        for _ in range(BURST_CLIENTS)
    ]
    for client in clients:
        client.start()
    time.sleep(1)  # the burst is in full swing
    held = [HeldPost(address.hostname, address.port, name) for _ in range(HELD_REQUESTS)]
    time.sleep(0.3)  # the held requests have reached gunicorn's worker threads

    stop = {}

    def docker_stop():
        started = time.monotonic()
        try:
            docker(
                "stop",
                "--time",
                str(GRACE_PERIOD_SECONDS),
                container,
                timeout=GRACE_PERIOD_SECONDS + 30,
            )
            stop["seconds"] = time.monotonic() - started
        finally:
            stopped.set()

    stopper = threading.Thread(target=docker_stop)
    stopper.start()
    wait_for(
        lambda: "Handling signal: term" in stack.logs(container, "all"),
        timeout=10,
        message="SIGTERM",
    )
    time.sleep(0.5)  # gunicorn is draining: finish the requests it is still reading
    held_statuses = [request.finish() for request in held]
    stopper.join(GRACE_PERIOD_SECONDS + 30)
    for client in clients:
        client.join(60)

    assert held_statuses == [201] * HELD_REQUESTS
    answered = [outcome for outcome in outcomes if outcome != "not accepted"]
    assert len(answered) >= 10 and set(answered) == {201}
    assert docker("inspect", "--format", "{{.State.ExitCode}}", container) == "0"
    assert stop["seconds"] < GRACE_PERIOD_SECONDS
    # Every item the service committed was answered: none was dropped mid-request.
    [(stored,)] = stack.database.query("SELECT count(*) FROM items WHERE name = %s", (name,))
    assert stored == HELD_REQUESTS + len(answered)
