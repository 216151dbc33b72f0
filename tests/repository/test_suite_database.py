"""The test suite's PostgreSQL is its own (tests/support/postgres_server.py): a
server the machine already runs, however it authenticates, is never used, and a
run leaves no server behind, even when it is killed."""

import os
import re
import signal
import subprocess
import sys

import psycopg2

from tests.support.repository_files import REPOSITORY
from tests.support.services import wait_for

# A sample of the tiers that use a database: Flask apps in process, services under
# gunicorn reaching it through a proxy, psql run by a script.
SAMPLE = [
    "tests/services/test_schema.py",
    "tests/integration/test_readiness.py",
    "tests/repository/test_assignment_flow.py",
]


def in_own_network_namespace(command: list[str]) -> list[str]:
    """The command with a 127.0.0.1 of its own; as root, or else as the same user
    mapped into a user namespace (initdb then runs as that user, as it must)."""
    if os.geteuid() == 0:
        return ["unshare", "--net", *command]
    return ["unshare", "--user", "--map-current-user", "--net", *command]


def test_the_suite_passes_beside_a_server_on_5432_that_asks_for_a_password():
    run = subprocess.run(
        in_own_network_namespace(
            [sys.executable, "-m", "tests.support.beside_a_password_server", *SAMPLE]
        ),
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
    )

    output = run.stdout + run.stderr
    assert "port 5432 failed: fe_sendauth: no password supplied" in output, (
        "the server on 5432 must refuse a client without a password, as the issue's did"
    )
    assert run.returncode == 0, output
    assert re.search(r"^\d+ passed in [\d.]+s$", output, re.MULTILINE), "nothing failed or skipped"
    assert "listening after the run: [5432]" in output, "the suite's own server is stopped"


def test_a_killed_test_run_leaves_no_server_behind():
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "from tests.support.database import server\n"
            "print(server().port, server().directory, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n",
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    port, directory = killed.stdout.split()

    def stopped() -> bool:
        try:
            psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", connect_timeout=1
            ).close()
        except psycopg2.OperationalError:
            return not os.path.exists(directory)
        return False

    wait_for(stopped, timeout=30, message="the killed run's server to be stopped and removed")
