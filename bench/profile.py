"""Where a request's CPU goes in items-service: py-spy samples the thread that
holds the interpreter lock in every worker while a load runs, and each sample
is put down to what the request was doing (CATEGORIES)."""

import collections
import re
import subprocess
import sys
from pathlib import Path

from tests.support.services import ServiceProcess

PY_SPY = Path(sys.executable).with_name("py-spy")
SAMPLES_PER_SECOND = 100
FRAME = re.compile(r"^(?P<function>.+) \((?P<file>[^:]+)(?::\d+)?\)$")

RELAY = "outbox relay thread (claim, POST to audit-service, delete)"
# (category, file pattern, function pattern): the innermost frame of a sample
# that matches one of these decides its category, so that a library called by
# our code (json by a view, Werkzeug by a hook) counts where it is called; a
# sample with no such frame is Flask's or the HTTP server's own work. A sample
# of the relay's thread is the relay's, whatever it was doing.
CATEGORIES = [
    ("metrics (prometheus_client)", r"prometheus_client/", r""),
    ("metrics (prometheus_client)", r"service_common/database\.py", r"^timed$"),
    ("JSON logging (access log)", r"logging/|pythonjsonlogger/|gunicorn_settings\.py", r""),
    ("database round trip (psycopg2)", r"service_common/database\.py", r"^(execute|commit)$"),
    ("connection pool", r"service_common/database\.py|request_connection\.py", r""),
    ("validation and JSON body", r"validation\.py|json_body\.py", r""),
    ("audit event (built for the statement)", r"audit_recorder\.py|outbox\.py", r""),
    ("views and item SQL", r"items_service/(api|store)\.py", r""),
    ("our hooks (request id, timing)", r"service_common/(request_ids|metrics)\.py", r""),
]
FRAMEWORK = ("Flask and Werkzeug", r"flask/|werkzeug/")
SERVER = "HTTP server (gunicorn: parsing, writing, threads)"


def start(service: ServiceProcess, seconds: int, output: Path) -> subprocess.Popen:
    """Samples the master and its workers in the background into a raw stack file."""
    return subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(service.process.pid),
            "--subprocesses",
            "--gil",
            "--duration",
            str(seconds),
            "--rate",
            str(SAMPLES_PER_SECOND),
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


def finish(sampler: subprocess.Popen, timeout: float) -> None:
    _, errors = sampler.communicate(timeout=timeout)
    if sampler.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors.strip()}")


def category(stack: list[str]) -> str:
    if any("outbox_relay.py" in frame for frame in stack):
        return RELAY
    frames = [match for frame in reversed(stack) if (match := FRAME.match(frame))]
    for frame in frames:
        for name, files, functions in CATEGORIES:
            if re.search(files, frame["file"]) and re.search(functions, frame["function"]):
                return name
    if any(re.search(FRAMEWORK[1], frame["file"]) for frame in frames):
        return FRAMEWORK[0]
    return SERVER


def breakdown(samples: Path, requests: int) -> list[tuple[str, float]]:
    """Milliseconds of interpreter time per request, by category, largest first."""
    per_category: collections.Counter = collections.Counter()
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        per_category[category(stack.split(";"))] += int(count)
    milliseconds = 1000 / SAMPLES_PER_SECOND / max(requests, 1)
    return [(name, round(count * milliseconds, 3)) for name, count in per_category.most_common()]
