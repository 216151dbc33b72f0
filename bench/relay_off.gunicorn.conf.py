"""items-service's gunicorn settings with the outbox relay never started: the
"relay off" side of the auditing overhead. Events are still written to the
outbox in each request's transaction; nothing delivers them."""

import runpy

globals().update(
    {
        name: value
        for name, value in runpy.run_path("gunicorn.conf.py").items()
        if not name.startswith("__")
    }
)


def post_worker_init(worker):
    pass
