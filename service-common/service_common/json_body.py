"""Strict reading of a JSON request body: anything odd is a 4xx problem, never a 500."""

import json
import re

from flask import request
from gunicorn.http.errors import NoMoreData, ParseException

from service_common.problems import Problem, body_too_large

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _object_without_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _body_bytes() -> bytes:
    """The body, whatever its framing; 413 over the app's MAX_CONTENT_LENGTH."""
    if request.content_length is not None:
        # Werkzeug answers 413 for a Content-Length over the limit before reading.
        return request.get_data(cache=False)
    # A chunked body has no length to check up front, and Werkzeug stops reading
    # it at the limit without a word: read one byte more than allowed to tell.
    limit = request.max_content_length
    body = request.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise body_too_large(limit)
    return body


def read_json_body():
    """The parsed body; 415 unless it is application/json, 413 over the app's
    MAX_CONTENT_LENGTH, 400 when it is not well-formed UTF-8 JSON or its
    chunked framing is broken."""
    if request.mimetype != "application/json":
        raise Problem(415, "The request body must be JSON, sent as Content-Type: application/json.")
    try:
        raw = _body_bytes()
    except ParseException as error:
        # gunicorn reads a chunked body only as the application asks for it, so
        # a malformed chunk surfaces here rather than before the request starts.
        raise Problem(400, f"The request body is not validly chunked: {error}.") from None
    except NoMoreData:
        raise Problem(400, "The request body ended early: the client stopped sending.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "The request body is not valid UTF-8.") from None
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_duplicate_keys,
        )
    except RecursionError:
        raise Problem(400, "The request body is nested too deeply.") from None
    except ValueError as error:
        # JSONDecodeError, a duplicate key, NaN/Infinity, or an integer too long to convert.
        message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        raise Problem(400, f"The request body is not valid JSON: {message}.") from None


def storable_text(value: str) -> bool:
    """PostgreSQL text holds neither NUL characters nor lone surrogates (a
    decoded str holds a surrogate only when it is lone)."""
    return UNSTORABLE.search(value) is None
