"""Signals to a gunicorn master and its workers."""

import contextlib
import os
import signal
from pathlib import Path

from tests.support.services import ServiceProcess


def workers(service: ServiceProcess) -> set[int]:
    """The worker pids of a running gunicorn master (its direct children)."""
    pid = service.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def kill_hard(service: ServiceProcess) -> None:
    """SIGKILL to the master and every worker at once, as when a container is killed."""
    pids = workers(service)
    service.process.send_signal(signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it may have died with the master
            os.kill(pid, signal.SIGKILL)
    service.process.wait(10)
