"""The request id: taken from X-Request-ID when it is safe to echo and log, else generated."""

import re
import uuid

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
ENVIRON_KEY = "HTTP_X_REQUEST_ID"
# Only characters that cannot split a header or a log line are accepted.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


def register_request_ids(app: Flask) -> None:
    @app.before_request
    def assign_request_id():
        incoming = request.environ.get(ENVIRON_KEY, "")
        g.request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        return response
