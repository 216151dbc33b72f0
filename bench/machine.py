"""What the figures were measured on."""

import os
import platform
import subprocess

from tests.support.database import TestDatabase


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with open("/proc/meminfo") as meminfo:
        kib = int(meminfo.readline().split()[1])
    return round(kib / 1024 / 1024, 1)


def describe(database: TestDatabase) -> dict:
    settings = dict(
        database.query(
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')"
        )
    )
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": database.query("SHOW server_version")[0][0],
        "postgresql_settings": settings,
        "wrk": wrk_version.split("[")[0].strip(),
        "load_average_at_start": os.getloadavg(),
    }
