"""The services' own gunicorn settings (workers, gthread threads, JSON access log)."""

from service_common.gunicorn_settings import gunicorn_settings

# The ceiling has no settings of its own to check.
globals().update(gunicorn_settings("bench-ceiling", 8090, lambda: None))
