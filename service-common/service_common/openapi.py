"""OpenAPI 3.1 pieces both services' documents share."""

from service_common.problems import size_text

# PostgreSQL text holds no NUL character, so the services refuse it.
NO_NUL = "^[^\\u0000]*$"

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
}

PROBLEM_DESCRIPTIONS = {
    400: "The request is invalid: not valid HTTP (request line, headers or chunked body),"
    " malformed JSON, or a wrong field or parameter.",
    401: "The bearer token is missing or wrong.",
    404: "No such resource.",
    409: "An event's id is already stored with other content (a redelivery with the same"
    " content is not a conflict); errors name each such event's index. Nothing was stored.",
    414: "The request line (method, path and query) is too long.",
    415: "The request body is not application/json.",
    431: "A request header is too large, or there are too many of them.",
    503: "Not carried out: the database is unavailable, or (items-service) the audit"
    " outbox is at its limit while audit-service is away; retry after Retry-After seconds.",
}
# gunicorn refuses a request it cannot parse before any route sees it, so
# every operation can answer these.
PROTOCOL_ERRORS = (400, 414, 431)


def problem_responses(*statuses: int, body_limit: int | None = None) -> dict:
    """Problem responses for these statuses and for PROTOCOL_ERRORS; with
    body_limit, the operation's 413 too."""
    descriptions = dict(PROBLEM_DESCRIPTIONS)
    if body_limit is not None:
        statuses = (*statuses, 413)
        descriptions[413] = (
            f"The request body is larger than {size_text(body_limit)},"
            " whether sent with a Content-Length or chunked."
        )
    return {
        str(status): {
            "description": descriptions[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in sorted({*statuses, *PROTOCOL_ERRORS})
    }


def with_head_operations(paths: dict) -> dict:
    """Each path that has a GET also has the HEAD the framework serves for it:
    the same answers, headers only."""
    return {
        path: {**operations, "head": _head_of(operations["get"])}
        if "get" in operations
        else operations
        for path, operations in paths.items()
    }


def _head_of(get: dict) -> dict:
    responses = {
        status: {key: value for key, value in response.items() if key not in ("content", "links")}
        for status, response in get["responses"].items()
    }
    return {
        **{key: value for key, value in get.items() if key in ("parameters", "description")},
        "operationId": f"{get['operationId']}Head",
        "summary": f"{get['summary']}: headers only",
        "responses": responses,
    }


def _status_response(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string"}},
                }
            }
        },
    }


def operational_paths() -> dict:
    return {
        "/healthz": {
            "get": {
                "operationId": "liveness",
                "summary": "Liveness: the process answers (no database call)",
                "responses": {"200": _status_response("Alive."), **problem_responses()},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "summary": "Readiness: the database is reachable",
                "responses": {"200": _status_response("Ready."), **problem_responses(503)},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **problem_responses(),
                },
            }
        },
    }
