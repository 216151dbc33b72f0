"""Prometheus in tests: the release the cluster runs, and a real server on loopback.

scripts/setup/40-prometheus.sh builds prometheus and promtool of the version of the
image infra/ pins into ${XDG_CACHE_HOME:-~/.cache}/items-audit/prometheus/<version>/.

There is no Kubernetes API here, so the live server cannot discover pods: each
`kubernetes_sd_configs` block of its config becomes a `static_configs` block whose
targets carry the `__meta_kubernetes_*` labels pod discovery would give the pods of
the rendered workloads; the job's relabelling and everything else stay as deployed.
"""

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from infra.prometheus import PROMETHEUS_IMAGE
from tests.support.network import free_port


def image_version() -> str:
    """The Prometheus release the cluster runs: the pinned image's tag, without the v."""
    match = re.fullmatch(r"prom/prometheus:v(\d+\.\d+\.\d+)@sha256:[0-9a-f]{64}", PROMETHEUS_IMAGE)
    assert match, f"not a prom/prometheus:vX.Y.Z@sha256:... pin: {PROMETHEUS_IMAGE}"
    return match[1]


def build_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "items-audit" / "prometheus" / image_version()


def binary(name: str) -> str:
    """The path of a Prometheus tool of the cluster's release; a missing one fails the test."""
    path = build_dir() / name
    assert os.access(path, os.X_OK), (
        f"{path} not found: scripts/setup/40-prometheus.sh builds Prometheus {image_version()}"
    )
    return str(path)


def sanitized(name: str) -> str:
    """How Kubernetes discovery turns a label or annotation name into part of a label name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


@dataclass(frozen=True)
class Pod:
    """A pod as Kubernetes pod discovery sees it, with one container port."""

    namespace: str
    name: str
    ip: str
    port: int
    labels: dict[str, str]
    annotations: dict[str, str]

    @classmethod
    def from_template(cls, template: dict, namespace: str, name: str, ip: str, port: int) -> "Pod":
        """A pod of a rendered pod template, its metrics port (a service's `ops`
        port; the database's own) reached at ip:port instead (as through a
        port-forward); its annotations are the template's, an annotation naming that
        container port names `port`."""
        [container_port] = [
            str(entry["containerPort"])
            for container in template["spec"]["containers"]
            for entry in container.get("ports", [])
            if entry.get("name") in ("ops", "postgres")
        ]
        annotations = {
            key: str(port) if key == "prometheus.io/port" and value == container_port else value
            for key, value in (template["metadata"].get("annotations") or {}).items()
        }
        return cls(namespace, name, ip, port, template["metadata"]["labels"], annotations)

    def discovered_labels(self) -> dict[str, str]:
        labels = {
            "__meta_kubernetes_namespace": self.namespace,
            "__meta_kubernetes_pod_name": self.name,
            "__meta_kubernetes_pod_ip": self.ip,
            "__meta_kubernetes_pod_phase": "Running",
            "__meta_kubernetes_pod_ready": "true",
            "__meta_kubernetes_pod_container_port_number": str(self.port),
            "__meta_kubernetes_pod_container_port_protocol": "TCP",
        }
        for name, value in self.labels.items():
            labels["__meta_kubernetes_pod_label_" + sanitized(name)] = value
        for name, value in self.annotations.items():
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
