"""CPU time per request, by process: what each request cost the services,
PostgreSQL and the load generator, read from /proc. Unlike throughput, it does
not depend on what else the machine is running, so it compares variants
measured at different moments of a loaded machine."""

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        # The fields after the command name, which may hold spaces and parentheses.
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _ticks(pids: list[int], with_children: bool) -> int:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            # utime, stime; cutime, cstime: those of its children that it has reaped.
            total += int(fields[11]) + int(fields[12])
            if with_children:
                total += int(fields[13]) + int(fields[14])
    return total


def process_tree(root: int) -> list[int]:
    """A gunicorn master and its workers."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def postgres_processes() -> list[int]:
    """The server's processes; its connections' backends come and go, and the
    postmaster's reaped-children time counts the ones that have ended."""
    pids = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


@dataclass
class Meter:
    """CPU used by groups of processes between start() and per_request()."""

    groups: dict[str, int]  # name -> root pid of a process tree, or 0 for PostgreSQL

    def _read(self) -> dict[str, int]:
        return {
            name: _ticks(postgres_processes(), True)
            if root == 0
            else _ticks(process_tree(root), False)
            for name, root in self.groups.items()
        }

    def start(self) -> None:
        self._before = self._read()
        self._load_generator = os.times()

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request, by group, and for wrk."""
        after = self._read()
        times = os.times()
        wrk = (times.children_user - self._load_generator.children_user) + (
            times.children_system - self._load_generator.children_system
        )
        figures = {
            name: (after[name] - self._before[name]) / TICKS_PER_SECOND for name in self.groups
        }
        figures["wrk"] = wrk
        return {
            name: round(1000 * seconds / max(requests, 1), 3) for name, seconds in figures.items()
        }
