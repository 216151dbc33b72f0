"""Routes every service has: liveness, readiness, metrics and its OpenAPI document."""

import logging

import psycopg2
from flask import Blueprint, jsonify

from service_common.database import Database, DatabaseUnavailable
from service_common.metrics import metrics_response
from service_common.problems import database_unavailable_response

log = logging.getLogger(__name__)


def operational_blueprint(database: Database, openapi_document: dict) -> Blueprint:
    blueprint = Blueprint("operational", __name__)

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

    @blueprint.get("/metrics")
    def metrics():
        return metrics_response()

    @blueprint.get("/openapi.json")
    def openapi():
        return jsonify(openapi_document)

    return blueprint
