"""gunicorn settings for items-service (DESIGN §5)."""

from items_service.settings import Settings
from service_common.config import ConfigError
from service_common.gunicorn_settings import exit_on_config_error, gunicorn_settings

SERVICE_NAME = "items-service"
RELAY_STOP_SECONDS = 10

# Fail here, in the master, with one clear line, rather than in every worker.
try:
    Settings.from_env()
except ConfigError as error:
    exit_on_config_error(SERVICE_NAME, error)

globals().update(gunicorn_settings(SERVICE_NAME, default_port=8080))


def post_worker_init(worker):
    # One relay per worker, started after the fork so that it owns its thread
    # and its database connections.
    worker.wsgi.extensions["audit_relay"].start()


def worker_exit(server, worker):
    relay = worker.wsgi.extensions.get("audit_relay") if getattr(worker, "wsgi", None) else None
    if relay is not None:
        relay.stop(RELAY_STOP_SECONDS)
