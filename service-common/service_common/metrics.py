"""Metrics both services export (DESIGN §6), and the /metrics response.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before any worker imports
prometheus_client, so every worker writes its values to files there and
/metrics aggregates them; without it (tests, one process) the default
registry is used.
"""

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# The *_created series are not aggregated in multiprocess mode; drop them everywhere.
disable_created_metrics()

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Time to run one database statement, by operation.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

UNMATCHED_ROUTE = "unmatched"
# Any other method is counted as OTHER so that a scanner cannot create series at will.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def instrument_requests(app: Flask) -> None:
    """Observe every request's duration. Register before other after_request hooks
    so that it runs last and includes their work (Flask runs them in reverse)."""

    @app.before_request
    def start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def observe_duration(response):
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
            method = request.method if request.method in KNOWN_METHODS else "OTHER"
            HTTP_REQUEST_DURATION.labels(method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response


def metrics_response() -> Response:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
