"""RFC 9457 problem responses: every error a client sees, never an HTML page or a trace."""

import json
import logging
from http import HTTPStatus

from flask import Flask, Response, current_app
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service_common.database import UNAVAILABLE_ERRORS

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """A client error found by the application, answered with a problem body."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict] | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers


def problem_response(
    status: int, detail: str, errors: list[dict] | None = None, headers: dict | None = None
) -> Response:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE, headers=headers)


def database_unavailable_response() -> Response:
    return problem_response(
        503, "The database is unavailable; retry later.", headers={"Retry-After": "1"}
    )


def size_text(size: int) -> str:
    """64 KiB, 4 MiB: how a body limit is written in answers and documents."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def body_too_large(limit: int) -> "Problem":
    """The one 413 answer, whatever the framing of the body."""
    return Problem(413, f"The request body is larger than {size_text(limit)}.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def handle_problem(error: Problem):
        return problem_response(error.status, error.detail, error.errors, error.headers)

    @app.errorhandler(RequestEntityTooLarge)
    def handle_body_too_large(_error: RequestEntityTooLarge):
        # Werkzeug refuses a Content-Length over the limit before reading.
        return handle_problem(body_too_large(current_app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        # Keep headers such as Allow (405) but not the HTML content type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        return problem_response(error.code or 500, error.description or "", headers=headers)

    def handle_database_unavailable(error: Exception):
        log.warning("database unavailable: %s", str(error).strip())
        return database_unavailable_response()

    for error_class in UNAVAILABLE_ERRORS:
        app.register_error_handler(error_class, handle_database_unavailable)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred.")
