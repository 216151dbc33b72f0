"""A buffering proxy in front of a service's gunicorn, in the same pod: nginx with
items-proxy/nginx.conf. gunicorn gives a connection one thread from accept until
the request body is read, so a few dozen slow or idle clients would hold every
thread (liveness probes included); nginx holds them in its event loop, reads each
request whole and only then passes it on, over loopback."""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import pods

# Pinned by its (multi-arch index) digest: the unprivileged nginx image, run with
# the pod's own user and command (its entrypoint scripts are bypassed). Written whole,
# name:tag@digest in one literal, so that Renovate's pattern (renovate.json) reads it.
PROXY_IMAGE = "nginxinc/nginx-unprivileged:1.28.0-alpine@sha256:c97ff0bf7cbae369953c6da1232ec14ad9f971d66360c5698db0856a4cd657a0"  # noqa: E501
CONFIG_DIR = "/etc/nginx/items-proxy"
# Every path nginx writes (pid, temporary files) is under -p, a writable emptyDir;
# -e: the error log before the configuration is read.
COMMAND = ["nginx", "-p", f"{pods.TMP_DIR}/", "-c", f"{CONFIG_DIR}/nginx.conf", "-e", "stderr"]
# nginx.conf's ports: the public one (the pod's `http`), its own liveness, and
# where it finds gunicorn on loopback.
PUBLIC_PORT = 8080
HEALTH_PORT = 8090
UPSTREAM_PORT = 8000
# The proxy container's memory limit: nginx.conf's worker_connections and buffer
# sizes are chosen to fit it (the arithmetic is there).
MEMORY_LIMIT_MIB = 64
# nginx drains its requests for at most worker_shutdown_timeout (10 s) after its
# preStop sleep; gunicorn is told to stop this much later, so it serves them.
UPSTREAM_EXTRA_DRAIN_SECONDS = 10


@dataclass(frozen=True)
class FrontProxy:
    config: str  # items-proxy/nginx.conf

    def config_map(self, name: str, namespace, opts: pulumi.ResourceOptions):
        return pods.config_map(name, namespace, {"nginx.conf": self.config}, opts)

    def container(self, name: str, drain_seconds: int) -> k8s.core.v1.ContainerArgs:
        return k8s.core.v1.ContainerArgs(
            name=name,
            image=PROXY_IMAGE,
            image_pull_policy="IfNotPresent",
            command=COMMAND,
            ports=[
                k8s.core.v1.ContainerPortArgs(name="http", container_port=PUBLIC_PORT),
                k8s.core.v1.ContainerPortArgs(name="proxy-health", container_port=HEALTH_PORT),
            ],
            volume_mounts=[
                pods.mount("proxy-config", CONFIG_DIR),
                pods.mount("proxy-tmp", pods.TMP_DIR, read_only=False),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("50m", "32Mi", "250m", f"{MEMORY_LIMIT_MIB}Mi"),
            liveness_probe=pods.http_probe("/healthz", "proxy-health", period=10, failures=3),
            readiness_probe=pods.http_probe("/healthz", "proxy-health", period=5, failures=2),
            lifecycle=pods.drain_pre_stop(drain_seconds),
        )

    @staticmethod
    def volumes(config_map_name) -> list[k8s.core.v1.VolumeArgs]:
        return [
            pods.config_map_volume("proxy-config", config_map_name),
            pods.empty_dir("proxy-tmp", "16Mi"),
        ]
