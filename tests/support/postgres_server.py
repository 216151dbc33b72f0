"""A throwaway PostgreSQL server: its own data directory in a temporary directory,
a free loopback port, and Debian's binaries (scripts/setup/10-postgres.sh installs
them). The machine's own server, whatever it runs and however it authenticates, is
neither used nor changed.

A watchdog process stops the server and removes its directory when the process
that started it is gone, so a test run that is killed leaves no server behind."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from tests.support.network import free_port

SUPERUSER = "postgres"
# The watchdog: $1 is the pid to outlive, $2 the directory, the rest the stop command.
WATCHDOG = """
while [ -d "/proc/$1" ]; do sleep 1; done
directory="$2"
shift 2
"$@" >/dev/null 2>&1
rm -rf "${directory}"
"""


def binaries() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian's layout)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3])
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin/initdb):"
            " run scripts/setup/10-postgres.sh"
        )
    return found[-1].parent


def _as_server_owner(*command: str) -> list[str]:
    # initdb refuses to run as root: as root, the server's files belong to `postgres`.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PostgresServer:
    """Started on construction, stopped by stop(). `password` makes it ask every
    client for one (SCRAM) instead of trusting loopback; `port` a fixed port
    instead of a free one. PostgreSQL's default settings otherwise (fsync on: the
    benchmark measures on this server too)."""

    def __init__(self, port: int | None = None, password: str | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.user = SUPERUSER
        self.password = password
        # Not under $TMPDIR: in the container `make test` runs in elsewhere, that is under
        # the checkout, which the postgres user may not traverse (a home of mode 0700),
        # and a long path would pass the 107 bytes a Unix socket's path may have.
        self.directory = Path(tempfile.mkdtemp(prefix="items-audit-pg-", dir="/var/tmp"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self._watchdog = subprocess.Popen(
            ["sh", "-c", WATCHDOG, "watchdog", str(os.getpid()), str(self.directory)]
            + self._pg_ctl("stop", "-m", "immediate"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a signal to this process's group does not reach it.
            start_new_session=True,
        )
        self._initdb()
        settings = f"-p {self.port} -k {self.directory} -c listen_addresses={self.host}"
        self._run(*self._pg_ctl("start", "-w", "-l", str(self.directory / "log"), "-o", settings))

    def _initdb(self) -> None:
        authentication = ["--auth=trust"]
        if self.password is not None:
            password_file = self.directory / "password"
            password_file.write_text(self.password)
            if os.geteuid() == 0:
                shutil.chown(password_file, "postgres", "postgres")
            authentication = ["--auth=scram-sha-256", f"--pwfile={password_file}"]
        self._run(
            *_as_server_owner(
                str(binaries() / "initdb"),
                "--no-sync",
                "-D",
                str(self.data),
                "-U",
                self.user,
                *authentication,
            )
        )

    def _pg_ctl(self, *arguments: str) -> list[str]:
        return _as_server_owner(str(binaries() / "pg_ctl"), "-D", str(self.data), *arguments)

    @staticmethod
    def _run(*command: str) -> None:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if finished.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {finished.stdout}{finished.stderr}")

    def connect(self, database: str = "postgres"):
        """A superuser connection in autocommit mode."""
        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database
        )
        connection.autocommit = True
        return connection

    def stop(self) -> None:
        """Stops the server and removes its directory."""
        self._watchdog.kill()
        self._watchdog.wait()
        subprocess.run(
            self._pg_ctl("stop", "-m", "immediate"), capture_output=True, timeout=60, check=False
        )
        shutil.rmtree(self.directory, ignore_errors=True)
