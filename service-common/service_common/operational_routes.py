"""Routes every service has. On its own port (PORT): liveness, readiness and its
OpenAPI document. On the operations port (OPS_PORT), which no Kubernetes Service
exposes: liveness, readiness and the metrics, for the kubelet's probes and
Prometheus' scrapes (DESIGN §2)."""

import logging
from collections.abc import Callable

import psycopg2
from flask import Blueprint, Flask, jsonify

from service_common.database import Database, DatabaseUnavailable
from service_common.metrics import metrics_response
from service_common.problems import database_unavailable_response, register_error_handlers

log = logging.getLogger(__name__)


def _probes(blueprint: Blueprint, database: Database) -> None:
    @blueprint.get("/healthz")
    def healthz():
        # Liveness must not depend on the database, or an outage would restart every pod.
        return jsonify(status="ok")

    @blueprint.get("/readyz")
    def readyz():
        try:
            database.ping()
        except (DatabaseUnavailable, psycopg2.Error) as error:
            log.warning("not ready: %s", str(error).strip())
            return database_unavailable_response()
        return jsonify(status="ready")


def operational_blueprint(database: Database, openapi_document: dict) -> Blueprint:
    blueprint = Blueprint("operational", __name__)
    _probes(blueprint, database)

    @blueprint.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document)

    return blueprint


def create_ops_app(
    import_name: str, database: Database, before_scrape: Callable[[], None] | None = None
) -> Flask:
    """The operations port's app: probes and metrics, and a 404 problem for anything else.
    before_scrape, when given, runs before each metrics answer: for values a service
    reads only when Prometheus asks."""
    app = Flask(import_name)
    app.url_map.merge_slashes = False
    register_error_handlers(app)
    blueprint = Blueprint("ops", __name__)
    _probes(blueprint, database)

    @blueprint.get("/metrics")
    def metrics():
        if before_scrape is not None:
            before_scrape()
        return metrics_response()

    app.register_blueprint(blueprint)
    return app


class OpsPortDispatcher:
    """The WSGI app gunicorn serves on both its ports: a request that arrived on
    the operations port goes to the ops app, any other to the service's. gunicorn
    sets SERVER_PORT to the port of the socket that accepted the connection, not
    from anything the client sends."""

    def __init__(self, service_app, ops_app, ops_port: int):
        self.service_app = service_app
        self.ops_app = ops_app
        self.ops_port = str(ops_port)

    def __call__(self, environ, start_response):
        on_ops_port = environ.get("SERVER_PORT") == self.ops_port
        return (self.ops_app if on_ops_port else self.service_app)(environ, start_response)
