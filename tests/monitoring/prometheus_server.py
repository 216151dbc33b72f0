"""Debian's Prometheus in tests: the Kubernetes config with pod discovery swapped for
equivalent static targets, and a real server on loopback.

Debian builds Prometheus without Kubernetes service discovery, so each
`kubernetes_sd_configs` block becomes a `static_configs` block whose targets carry
the same `__meta_kubernetes_*` labels pod discovery would give those pods; the
job's relabelling, paths and everything else stay exactly as deployed.
"""

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tests.support.network import free_port

PART_OF = "items-audit"


def binary(name: str) -> str:
    """The path of a Prometheus tool; a missing one fails the test.
    scripts/setup/40-prometheus.sh installs them."""
    path = shutil.which(name)
    assert path, (
        f"{name} not found: run scripts/setup/40-prometheus.sh (apt-get install prometheus)"
    )
    return path


def sanitized(name: str) -> str:
    """How Kubernetes discovery turns a label or annotation name into part of a label name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


@dataclass(frozen=True)
class Pod:
    """A pod as Kubernetes pod discovery sees it, with one container port."""

    namespace: str
    name: str
    app: str
    ip: str
    port: int
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def scraped(
        cls, namespace: str, name: str, app: str, ip: str, port: int, path: str = "/metrics"
    ) -> "Pod":
        """A pod carrying the contract's opt-in annotations."""
        annotations = (
            ("prometheus.io/scrape", "true"),
            ("prometheus.io/port", str(port)),
            ("prometheus.io/path", path),
        )
        return cls(namespace, name, app, ip, port, annotations)

    def discovered_labels(self) -> dict[str, str]:
        labels = {
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_pod_name": self.name,
            "__meta_kubernetes_pod_ip": self.ip,
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_container_port_number": str(self.port),
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
            "__meta_kubernetes_pod_label_" + sanitized("app.kubernetes.io/name"): self.app,
            "__meta_kubernetes_pod_label_" + sanitized("app.kubernetes.io/part-of"): PART_OF,
        }
        for name, value in self.annotations:
            labels["__meta_kubernetes_pod_annotation_" + sanitized(name)] = value
        return labels

    def static_config(self) -> dict:
        # Pod discovery sets __address__ to the pod IP and the container port.
        return {"targets": [f"{self.ip}:{self.port}"], "labels": self.discovered_labels()}


def with_static_pods(config_text: str, pods: list[Pod]) -> dict:
    """The config with every kubernetes_sd_configs block replaced by these pods as static
    targets, keeping only the pods in the namespaces that block discovers."""
    config = yaml.safe_load(config_text)
    for job in config["scrape_configs"]:
        discoveries = job.pop("kubernetes_sd_configs", None)
        if discoveries is None:
            continue
        namespaces = {
            name for discovery in discoveries for name in discovery["namespaces"]["names"]
        }
        job["static_configs"] = [pod.static_config() for pod in pods if pod.namespace in namespaces]
    return config


class PrometheusServer:
    """`prometheus` on 127.0.0.1 with a config file, its data in a temporary directory."""

    def __init__(self, config: dict, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.config_path = directory / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = directory / "prometheus.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusServer":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    binary("prometheus"),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited:\n{self.logs()}"
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"prometheus not ready within 20s:\n{self.logs()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, path: str, **params) -> dict:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query's result vector: [{"metric": {...}, "value": [time, "text"]}]."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data["resultType"])
        return data["result"]
