"""py-spy on every worker of a service while a load runs: where the time goes."""

import collections
import re
import subprocess
import sys
from pathlib import Path

from tests.support.services import ServiceProcess

PY_SPY = Path(sys.executable).with_name("py-spy")
LINE_NUMBER = re.compile(r":\d+\)$")


def start(service: ServiceProcess, seconds: int, output: Path) -> subprocess.Popen:
    """Samples the master and its workers in the background into a collapsed-stack file."""
    return subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(service.process.pid),
            "--subprocesses",
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def summary(collapsed: Path, top: int = 15) -> list[tuple[str, float]]:
    """Share of the samples whose innermost frame is each function (self time).
    py-spy leaves idle threads out, so this is where the busy time goes; time
    spent waiting on PostgreSQL shows as psycopg2's execute/commit callers."""
    leaves: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        # "name (file.py:123)" -> "name (file.py)": one entry per function.
        leaves[LINE_NUMBER.sub(")", stack.split(";")[-1])] += int(count)
    return [
        (function, round(100 * count / total, 1)) for function, count in leaves.most_common(top)
    ]
