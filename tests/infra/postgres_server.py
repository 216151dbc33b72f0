"""A PostgreSQL server of a test's own, on a free loopback port with trust auth:
login roles are server-wide, so a test that sets role passwords gets a server
nobody else uses, and leaves the shared one (127.0.0.1:5432) as it was."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2

from tests.support.network import free_port

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> list[str]:
    # initdb refuses to run as root; the server's files belong to `postgres`.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PostgresServer:
    def __init__(self):
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="items-audit-pg-", dir="/var/tmp"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data = str(self.directory / "data")
        subprocess.run(
            _as_postgres(str(BIN / "initdb"), "-D", data, "--auth=trust", "-U", "postgres"),
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                str(BIN / "pg_ctl"), "-D", data, "-o", options, "-l", f"{data}/log", "-w", "start"
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def connect(self, database: str = "postgres"):
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database
        )
        connection.autocommit = True
        return connection

    def stop(self) -> None:
        subprocess.run(
            _as_postgres(
                str(BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "stop"
            ),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
