"""The suite leaves nothing behind in temporary directories: a service process,
even one killed outright, takes its log and its metrics files with it."""

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import requests

from tests.reliability.processes import kill_hard, workers
from tests.support.services import REPOSITORY, audit_service


def temporary_files_in_use(pids: set[int]) -> set[Path]:
    """Files under the temporary directory the processes hold open or have
    mapped (prometheus-client maps its multiprocess .db files), other than the
    code they run (a checkout, or its virtualenv, may itself be in /tmp)."""
    paths = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            # A descriptor closed since the directory was listed is not in use.
            with contextlib.suppress(FileNotFoundError):
                paths.add(Path(os.readlink(fd)))
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            fields = line.split(maxsplit=5)
            if len(fields) == 6:
                paths.add(Path(fields[5]))
    code = (REPOSITORY, Path(sys.prefix).resolve())
    return {
        path
        for path in paths
        if path.is_relative_to(tempfile.gettempdir())
        and not any(path.is_relative_to(root) for root in code)
    }


def test_a_killed_service_leaves_no_file_behind(database):
    service = audit_service(database).start()
    requests.get(f"{service.ops_url}/metrics", timeout=5)
    in_use = temporary_files_in_use({service.process.pid, *workers(service)})
    metrics_directories = {path.parent for path in in_use if path.suffix == ".db"}
    assert service.log_path in in_use
    assert metrics_directories, "the workers have their metrics files mapped"

    kill_hard(service)
    service.close()

    assert [path for path in in_use if path.exists()] == []
    assert [path for path in metrics_directories if path.exists()] == []
