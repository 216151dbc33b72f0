"""Slow clients, as a cheap denial-of-service attack: connections that trickle a
request body one byte at a time, and connections that send nothing at all.
The attack keeps its numbers up: a connection the server closes is opened again."""

import socket
import threading
import time

import requests

TRICKLE_INTERVAL_SECONDS = 1.0
# A body the trickle never finishes: 1 byte a second for over two hours.
DECLARED_BODY_BYTES = 10_000
SLOW_BODY_HEAD = (
    "POST /items HTTP/1.1\r\n"
    "Host: {host}\r\n"
    "Content-Type: application/json\r\n"
    f"Content-Length: {DECLARED_BODY_BYTES}\r\n"
    "\r\n"
    '{{"name": "'
)


class SlowClients:
    """`trickling` connections that send a POST /items head, then one byte of
    body a second, and `idle` connections that send nothing; from start() to
    stop(), whatever the server does to them."""

    def __init__(self, host: str, port: int, trickling: int, idle: int):
        self._address = (host, port)
        self._trickling: list[socket.socket | None] = [None] * trickling
        self._idle: list[socket.socket | None] = [None] * idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.reconnections = 0

    def open_connections(self) -> int:
        return sum(connection is not None for connection in self._trickling + self._idle)

    def start(self) -> "SlowClients":
        for index in range(len(self._idle)):
            self._idle[index] = self._connect()
        for index in range(len(self._trickling)):
            self._trickling[index] = self._open_trickle()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TRICKLE_INTERVAL_SECONDS * 5)
        for connection in self._trickling + self._idle:
            if connection is not None:
                connection.close()

    def __enter__(self) -> "SlowClients":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _connect(self) -> socket.socket | None:
        try:
            connection = socket.create_connection(self._address, timeout=5)
        except OSError:
            return None
        connection.setblocking(False)
        return connection

    def _open_trickle(self) -> socket.socket | None:
        connection = self._connect()
        if connection is not None and not _send(
            connection, SLOW_BODY_HEAD.format(host=self._address[0]).encode()
        ):
            connection.close()
            return None
        return connection

    def _run(self) -> None:
        while not self._stop.wait(TRICKLE_INTERVAL_SECONDS):
            for index, connection in enumerate(self._trickling):
                if connection is None or not _send(connection, b"n"):
                    self._replace(self._trickling, index, self._open_trickle)
            for index, connection in enumerate(self._idle):
                if connection is None or _closed_by_server(connection):
                    self._replace(self._idle, index, self._connect)

    def _replace(self, connections: list, index: int, opener) -> None:
        if connections[index] is not None:
            connections[index].close()
        connections[index] = opener()
        self.reconnections += 1


def _send(connection: socket.socket, data: bytes) -> bool:
    try:
        return connection.send(data) == len(data)
    except OSError:
        return False


def _closed_by_server(connection: socket.socket) -> bool:
    """Whether the server has given up on an idle connection: it sends nothing
    unless it closes it (EOF, a reset, or an error answer first)."""
    try:
        connection.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


# A request a client keeps sending while the attack goes on: method, URL, JSON body.
Probe = tuple[str, str, dict | None]


def unanswered(probes: list[Probe], seconds: float, within: float) -> tuple[int, list[tuple]]:
    """Sends every probe, twice a second, for `seconds`; returns how many were
    sent and those not answered with a 2xx within `within` seconds."""
    sent, failed = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for method, url, body in probes:
            sent += 1
            try:
                response = requests.request(method, url, json=body, timeout=within)
            except requests.RequestException as error:
                failed.append((method, url, type(error).__name__))
                continue
            if not 200 <= response.status_code < 300:
                failed.append((method, url, response.status_code))
        time.sleep(0.5)
    return sent, failed
