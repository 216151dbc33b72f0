"""Loopback ports, and a TCP proxy that can be cut to make a server unreachable."""

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable
from pathlib import Path

LISTEN = "0A"  # a socket's state in /proc/net/tcp: listening


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_file(path: str) -> str:
    return Path(path).read_text()


def listening_sockets(read: Callable[[str], str] = read_file) -> set[tuple[str, int]]:
    """The local (address, port) of every listening TCP socket, IPv4 and IPv6, from
    the kernel's tables; `read` reads them (inside a container, for example)."""
    sockets = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in read(table).splitlines()[1:]:
            fields = line.split()
            hex_address, hex_port = fields[1].split(":")
            if fields[3] == LISTEN:
                # The kernel writes each 32-bit word of the address in host
                # (here little-endian) byte order.
                raw = bytes.fromhex(hex_address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                sockets.add((str(ipaddress.ip_address(words)), int(hex_port, 16)))
    return sockets


def listening_addresses(port: int, read: Callable[[str], str] = read_file) -> set[str]:
    """The local addresses of the TCP sockets listening on this port."""
    return {
        address for address, listening_port in listening_sockets(read) if listening_port == port
    }


class CuttableProxy:
    """Forwards listen_host:port (a free port) to a target; cut() drops every
    connection and refuses new ones, as if the target had become unreachable;
    restore() undoes it. Also serves to reach a loopback-only server from an
    address containers can reach."""

    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1"):
        self._target = (target_host, target_port)
        self._listener = socket.create_server((listen_host, 0))
        self.host = listen_host
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._cut = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            connections, self._connections = self._connections, []
        for connection in connections:
            _close(connection)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    _close(client)
                    continue
            try:
                upstream = socket.create_connection(self._target, timeout=3)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
