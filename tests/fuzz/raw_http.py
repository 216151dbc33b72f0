"""HTTP/1.1 over a plain socket, for requests that well-behaved clients refuse to send."""

import socket
from dataclasses import dataclass

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class RawResponse:
    status: int | None  # None: the server closed the connection without answering
    headers: dict[str, str]  # names lower-cased
    body: bytes


def send(port: int, request: bytes, source: str = "127.0.0.1") -> RawResponse:
    """The answer to request, sent from the loopback address `source`."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=TIMEOUT_SECONDS, source_address=(source, 0)
    ) as connection:
        connection.sendall(request)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    if not received:
        return RawResponse(None, {}, b"")
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def request(
    method: bytes,
    target: bytes,
    headers: list[bytes] = (),
    body: bytes = b"",
    host: bytes = b"127.0.0.1",
) -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + host, b"Connection: close"]
    lines += list(headers)
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
