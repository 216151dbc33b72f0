"""What every service's application factory installs on its Flask app."""

from collections.abc import Callable

from flask import Flask

from service_common.database import Database
from service_common.metrics import instrument_requests
from service_common.operational_routes import (
    OpsPortDispatcher,
    create_ops_app,
    operational_blueprint,
)
from service_common.problems import register_error_handlers
from service_common.request_ids import register_request_ids


def create_base_app(
    import_name: str,
    database: Database,
    openapi_document: dict,
    *,
    max_body_bytes: int,
    ops_port: int,
    before_scrape: Callable[[], None] | None = None,
) -> Flask:
    """The service's app; requests to ops_port (OPS_PORT) are served by the
    operations app instead (probes and metrics; before_scrape runs before each
    metrics answer)."""
    app = Flask(import_name)
    # Werkzeug answers 413 for a larger body before it is read.
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json.sort_keys = False
    # Werkzeug would answer a path such as /items//1 with a 308 redirect and an
    # HTML body; such a path names nothing here, so it is a 404 problem.
    app.url_map.merge_slashes = False
    app.extensions["database"] = database
    # Order matters: Flask runs after_request hooks in reverse, so the timer
    # registered first observes the complete response, request id included.
    instrument_requests(app)
    register_request_ids(app)
    register_error_handlers(app)
    app.register_blueprint(operational_blueprint(database, openapi_document))
    app.wsgi_app = OpsPortDispatcher(
        app.wsgi_app, create_ops_app(import_name, database, before_scrape), ops_port
    )
    return app
