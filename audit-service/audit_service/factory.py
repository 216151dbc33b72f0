"""The application factory of audit-service."""

from flask import Flask

from audit_service import api
from audit_service.openapi import DOCUMENT
from audit_service.settings import Settings
from audit_service.storage_metrics import StorageMetrics
from audit_service.validation import MAX_BODY_BYTES
from service_common.database import Database
from service_common.gunicorn_settings import THREADS_PER_WORKER
from service_common.web_app import create_base_app

# A gthread worker serves THREADS_PER_WORKER requests at once; one more for readiness probes.
MAX_DB_CONNECTIONS = THREADS_PER_WORKER + 1


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    database = Database(
        settings.database_url, max_connections=MAX_DB_CONNECTIONS, application_name="audit-service"
    )
    storage = StorageMetrics(
        database, settings.database_volume_bytes, settings.audit_retention_days
    )
    app = create_base_app(
        __name__,
        database,
        DOCUMENT,
        max_body_bytes=MAX_BODY_BYTES,
        ops_port=settings.ops_port,
        before_scrape=storage.refresh,
    )
    app.config["AUDIT_TOKEN"] = settings.audit_token
    app.register_blueprint(api.blueprint)
    return app
