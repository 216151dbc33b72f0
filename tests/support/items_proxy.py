"""nginx with the items pod's proxy configuration (items-proxy/nginx.conf), as a
process on loopback in front of an items-service ServiceProcess.

The configuration is the repository's file as it is, but for its three ports:
in the pod they are fixed (8080 public, 8090 the proxy's liveness, gunicorn on
127.0.0.1:8000); here each is a free loopback port, so that runs side by side
never collide. Debian's nginx package provides the binary."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.support.network import free_port
from tests.support.services import REPOSITORY

CONFIG = REPOSITORY / "items-proxy" / "nginx.conf"
PUBLIC_LISTEN = "listen 8080;"
HEALTH_LISTEN = "listen 8090;"
UPSTREAM = "proxy_pass http://127.0.0.1:8000;"


def nginx_binary() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is missing: install Debian's nginx-light package")
    return binary


def configuration(public_port: int, health_port: int, upstream_port: int) -> str:
    text = CONFIG.read_text()
    for original, replacement in (
        (PUBLIC_LISTEN, f"listen 127.0.0.1:{public_port};"),
        (HEALTH_LISTEN, f"listen 127.0.0.1:{health_port};"),
        (UPSTREAM, f"proxy_pass http://127.0.0.1:{upstream_port};"),
    ):
        assert text.count(original) == 1, f"{CONFIG} must hold {original!r} exactly once"
        text = text.replace(original, replacement)
    return text


class ItemsProxy:
    """nginx started the way the pod's proxy container starts it:
    `nginx -p <writable dir>/ -c <config> -e stderr`."""

    def __init__(self, upstream_port: int):
        self.port = free_port()
        self.health_port = free_port()
        self._scratch = tempfile.TemporaryDirectory(prefix="items-proxy-")
        self.directory = Path(self._scratch.name)
        self.config_path = self.directory / "nginx.conf"
        self.config_path.write_text(configuration(self.port, self.health_port, upstream_port))
        self.log_path = self.directory / "nginx.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/healthz"

    def start(self) -> "ItemsProxy":
        # In the pod, nginx's master and workers run as the pod's user. Started
        # as root, nginx would run its workers as nobody, who may not write the
        # temporary files under the directory the master made.
        same_user = ["-g", "user root;"] if os.geteuid() == 0 else []
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    nginx_binary(),
                    "-p",
                    f"{self.directory}/",
                    "-c",
                    str(self.config_path),
                    "-e",
                    "stderr",
                    *same_user,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.health_url, timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not answer within 10s:\n{self.logs()}")

    def close(self) -> None:
        """Stop nginx gracefully (SIGQUIT, its own image's stop signal) and remove its files."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._scratch.cleanup()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _proportional_set_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no Pss in /proc/{pid}/smaps_rollup")


def memory_bytes(proxy: "ItemsProxy") -> int:
    """The memory nginx's master and workers use, each page counted once (the sum
    of their proportional set sizes), as a container's memory limit counts it."""
    pid = proxy.process.pid
    return sum(_proportional_set_size(each) for each in [pid, *_children(pid)])


def worker_resident_bytes(proxy: "ItemsProxy") -> int:
    """The resident set of nginx's worker(s): what `ps` reports."""
    total = 0
    for pid in _children(proxy.process.pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


# nginx.conf's *_temp_path directories, relative to its -p directory.
TEMPORARY_DIRECTORIES = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def temporary_file_bytes(proxy: "ItemsProxy") -> int:
    """Bytes in the temporary files nginx's workers hold open under its directory
    (in the pod: its emptyDir). nginx removes each such file from the directory
    as soon as it has opened it, so only the open descriptors show them."""
    directories = tuple(f"{proxy.directory / name}/" for name in TEMPORARY_DIRECTORIES)
    total = 0
    for pid in _children(proxy.process.pid):
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(descriptor).startswith(directories):
                    total += os.stat(descriptor).st_size
            except OSError:
                continue
    return total
