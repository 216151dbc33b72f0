"""gunicorn settings for audit-service (DESIGN §5)."""

from audit_service.settings import Settings
from service_common.config import ConfigError
from service_common.gunicorn_settings import exit_on_config_error, gunicorn_settings

SERVICE_NAME = "audit-service"

# Fail here, in the master, with one clear line, rather than in every worker.
try:
    Settings.from_env()
except ConfigError as error:
    exit_on_config_error(SERVICE_NAME, error)

globals().update(gunicorn_settings(SERVICE_NAME, default_port=8081))
