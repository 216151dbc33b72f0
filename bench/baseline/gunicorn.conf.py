"""The services' own gunicorn settings (workers, gthread threads, JSON access log)."""

from service_common.gunicorn_settings import gunicorn_settings

globals().update(gunicorn_settings("bench-baseline", default_port=8090))
