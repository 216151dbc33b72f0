"""gunicorn settings for audit-service (DESIGN §5)."""

from audit_service.settings import OPS_PORT, PORT, Settings
from service_common.gunicorn_settings import gunicorn_settings

SERVICE_NAME = "audit-service"

globals().update(gunicorn_settings(SERVICE_NAME, PORT, Settings.from_env, OPS_PORT))
