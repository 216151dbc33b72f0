"""The application factory of items-service."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from items_service import api, request_connection
from items_service.audit_recorder import register_audit_recorder
from items_service.openapi import DOCUMENT
from items_service.outbox_bound import OutboxBound, register_outbox_bound
from items_service.outbox_relay import OutboxRelay
from items_service.settings import Settings
from items_service.validation import MAX_BODY_BYTES
from service_common.database import Database
from service_common.gunicorn_settings import THREADS_PER_WORKER
from service_common.web_app import create_base_app

# A gthread worker serves THREADS_PER_WORKER requests at once, with one
# connection more for readiness probes; the outbox relay has its own.
REQUEST_CONNECTIONS = THREADS_PER_WORKER + 1
RELAY_CONNECTIONS = 1
MAX_DB_CONNECTIONS = REQUEST_CONNECTIONS + RELAY_CONNECTIONS
# The relay's commits need not wait for the disk: one lost in a crash leaves
# delivered rows in the outbox, and their redelivery is dropped by
# audit-service as a duplicate (DESIGN §3).
RELAY_SERVER_SETTINGS = {"synchronous_commit": "off"}


def create_app(settings: Settings | None = None) -> Flask:
    """The WSGI app. The outbox relay is created here but started by the
    caller (gunicorn's post_worker_init, or a test), after any fork."""
    settings = settings or Settings.from_env()
    database = Database(
        settings.database_url,
        max_connections=REQUEST_CONNECTIONS,
        application_name="items-service",
        autocommit=True,
    )
    relay_database = Database(
        settings.database_url,
        max_connections=RELAY_CONNECTIONS,
        application_name="items-service-relay",
        server_settings=RELAY_SERVER_SETTINGS,
    )
    relay = OutboxRelay(relay_database, settings.audit_service_url, settings.audit_token)
    app = create_base_app(
        __name__, database, DOCUMENT, max_body_bytes=MAX_BODY_BYTES, ops_port=settings.ops_port
    )
    app.extensions["audit_relay"] = relay
    if settings.trusted_proxy_count:
        # Behind the pod's nginx (items-proxy/nginx.conf), the TCP peer is
        # nginx itself; the client's address, which the audit trail records,
        # is the one nginx writes into X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_count)
    request_connection.init_app(app)
    register_outbox_bound(app, OutboxBound(settings.audit_outbox_limit))
    app.register_blueprint(api.blueprint)
    register_audit_recorder(app, on_recorded=relay.wake)
    return app
