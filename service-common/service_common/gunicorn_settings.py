"""gunicorn settings shared by both services.

A service's gunicorn.conf.py takes these with
`globals().update(gunicorn_settings(...))`: gunicorn reads its settings from
the config module's globals.
"""

import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Callable

from gunicorn.glogging import Logger

from service_common import config
from service_common.logs import logging_config
from service_common.protocol_errors import answer_protocol_errors_with_problems

# Requests mostly wait on PostgreSQL, so threads, not processes, add throughput.
# Measured in A/B runs (POST /items at 16 connections, one statement per
# request): 4 threads gave 0.86x and 16 threads 0.92x the rate of 8; before,
# 8 gave 1.5x the rate of 4.
THREADS_PER_WORKER = 8
# Worker processes when WEB_CONCURRENCY is not set; 3 gave 0.91x the rate of 2
# on 2 cores (same A/B).
DEFAULT_WORKERS = 2


UNTRUSTED_ID_MAX_LENGTH = 128


class JsonAccessLogger(Logger):
    """gunicorn's logger, writing one structured access line per request."""

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        # gunicorn keeps response headers as a list of (name, value) pairs.
        request_id = next(
            (value for name, value in resp.headers if name.lower() == "x-request-id"), None
        )
        client_request_id = environ.get("HTTP_X_CLIENT_REQUEST_ID")
        self.access_log.info(
            "request",
            extra={
                "request_id": request_id,
                # What the client sent as its own X-Request-ID, passed on by the
                # pod's proxy (which sets X-Request-ID itself): for finding a
                # request a client quotes, never trusted as the request's id.
                "untrusted_client_request_id": client_request_id[:UNTRUSTED_ID_MAX_LENGTH]
                if client_request_id
                else None,
                "method": environ.get("REQUEST_METHOD"),
                # A request gunicorn refuses has no PATH_INFO, only its parsed path.
                "path": environ.get("PATH_INFO", req.path),
                "query": environ.get("QUERY_STRING") or None,
                "status": _status_code(resp),
                "duration_ms": round(request_time.total_seconds() * 1000, 3),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "response_bytes": getattr(resp, "sent", None),
            },
        )


def _status_code(resp) -> int | None:
    """From resp.status ("400 Bad Request"), not resp.status_code: the response
    gunicorn builds for a request it refuses itself has no status_code, and an
    exception here would cost that client its answer."""
    status = resp.status
    return int(status.split(None, 1)[0]) if isinstance(status, str) else status


def prepare_metrics_directory(service_name: str) -> tuple[str, bool]:
    """PROMETHEUS_MULTIPROC_DIR, defaulting to a directory private to this instance
    so that two services on one host never mix their metrics; created if missing.
    Also tells whether the directory is a private one made here."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    private = not directory
    if private:
        directory = tempfile.mkdtemp(prefix=f"{service_name}-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    return directory, private


def wipe_metrics_directory(directory: str) -> None:
    """Files left by a previous run would resurrect its counters."""
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def _bind(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def gunicorn_settings(
    service_name: str,
    default_port: int,
    load_service_settings: Callable[[], object],
    default_ops_port: int | None = None,
) -> dict:
    """The settings, after checking the service's own: a bad one stops the master
    here with one clear line, rather than every worker with a traceback.

    With default_ops_port (both services), gunicorn listens on two ports: the
    service's (PORT, on BIND_ADDRESS) and the operations port (OPS_PORT, on
    OPS_BIND_ADDRESS, by default the same address), where probes and metrics
    are served (operational_routes.py)."""
    try:
        load_service_settings()
        address = config.bind_address(os.environ)
        port = config.integer(os.environ, "PORT", default_port, 1, 65535)
        binds = [_bind(address, port)]
        if default_ops_port is not None:
            ops_address = config.bind_address(os.environ, "OPS_BIND_ADDRESS", default=address)
            ops_port = config.ops_port(os.environ, default_ops_port)
            if ops_port == port:
                raise config.ConfigError(f"OPS_PORT must differ from PORT ({port})")
            binds.append(_bind(ops_address, ops_port))
        workers = config.integer(os.environ, "WEB_CONCURRENCY", DEFAULT_WORKERS, 1, 64)
        level = config.log_level(os.environ)
    except config.ConfigError as error:
        sys.exit(f"{service_name}: configuration error: {error}")

    answer_protocol_errors_with_problems()
    metrics_directory, private = prepare_metrics_directory(service_name)

    def on_starting(server):
        wipe_metrics_directory(metrics_directory)

    def on_exit(server):
        if private:
            shutil.rmtree(metrics_directory, ignore_errors=True)

    def child_exit(server, worker):
        # Imported here: prometheus_client must be imported only after
        # PROMETHEUS_MULTIPROC_DIR is set (above).
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, metrics_directory)

    return {
        "bind": binds,
        "workers": workers,
        "worker_class": "gthread",
        "threads": THREADS_PER_WORKER,
        # A tmpfs: the heartbeat file must not live on a (read-only) disk.
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,  # noqa: S108
        "timeout": 30,
        # Kubernetes waits terminationGracePeriodSeconds; gunicorn drains within this.
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
        "logger_class": JsonAccessLogger,
        "logconfig_dict": logging_config(service_name, level),
        "proc_name": service_name,
        # gunicorn 27's control socket lives under $HOME, which is read-only (or
        # "/") in the containers; nothing here uses gunicornc.
        "control_socket_disable": True,
        "on_starting": on_starting,
        "on_exit": on_exit,
        "child_exit": child_exit,
    }
