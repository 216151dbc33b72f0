"""A TCP relay from an address the containers can reach to one they cannot.

PostgreSQL listens on 127.0.0.1 only (as on the CI machine), which a container
on a bridge network cannot reach. Rather than reconfigure and restart the host's
server, each test run relays its bridge gateway address to 127.0.0.1:5432 for
as long as the run lasts; nothing on the host is changed.
"""

import socket
import threading


class TcpRelay:
    def __init__(self, listen_host: str, target: tuple[str, int]):
        self._target = target
        self._listener = socket.create_server((listen_host, 0))
        self.host = listen_host
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        # Either side ending ends the connection; the other pump then closes its socket.
        for connection in (sink, source):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        source.close()
