"""Runs pytest on the given test files in a machine where 127.0.0.1:5432 is taken by
a PostgreSQL server that asks for a password, as on a machine whose own server
runs with password authentication. Meant to run in a network namespace of its own
(`unshare --net`), so that its 127.0.0.1 is nobody else's.

    python -m tests.support.beside_a_password_server TEST_FILE...

Prints what a password-less client gets from that server, then pytest's output,
then the loopback ports still listening once pytest has exited."""

import fcntl
import socket
import struct
import subprocess
import sys

from tests.support.network import listening_sockets
from tests.support.postgres_server import PostgresServer

SYSTEM_PORT = 5432
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
IFREQ = "16sH22x"  # struct ifreq: the interface's name, its flags, the rest of the union


def bring_loopback_up() -> None:
    """`ip link set lo up`: a new network namespace's loopback is down, and
    iproute2 is not on a bare Debian."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack(IFREQ, b"lo", 0)
        _, flags = struct.unpack(IFREQ, fcntl.ioctl(probe, SIOCGIFFLAGS, request))
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def main(test_files: list[str]) -> int:
    bring_loopback_up()
    occupant = PostgresServer(port=SYSTEM_PORT, password="the-machine-owners-secret")
    try:
        without_password = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(SYSTEM_PORT), "-U", "postgres", "-w", "-c", ""],
            capture_output=True,
            text=True,
        )
        print(
            f"password-less client on {SYSTEM_PORT}: {without_password.stderr.strip()}", flush=True
        )
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_files]
        )
        still_listening = sorted({port for _, port in listening_sockets()})
        print(f"listening after the run: {still_listening}", flush=True)
        return tests.returncode
    finally:
        occupant.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
