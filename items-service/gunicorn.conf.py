"""gunicorn settings for items-service (DESIGN §5)."""

from items_service.settings import OPS_PORT, PORT, Settings
from service_common.gunicorn_settings import gunicorn_settings

SERVICE_NAME = "items-service"
RELAY_STOP_SECONDS = 10

globals().update(gunicorn_settings(SERVICE_NAME, PORT, Settings.from_env, OPS_PORT))


def post_worker_init(worker):
    # One relay per worker, started after the fork so that it owns its thread
    # and its database connections.
    worker.wsgi.extensions["audit_relay"].start()


def worker_exit(server, worker):
    relay = worker.wsgi.extensions.get("audit_relay") if getattr(worker, "wsgi", None) else None
    if relay is not None:
        relay.stop(RELAY_STOP_SECONDS)
