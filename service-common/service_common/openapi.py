"""OpenAPI 3.1 pieces both services' documents share."""

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
    400: "The request is invalid: malformed JSON, a wrong field or parameter.",
    401: "The bearer token is missing or wrong.",
    404: "No such resource.",
    413: "The request body is too large (items-service: 64 KiB; audit-service: 4 MiB).",
    415: "The request body is not application/json.",
    503: "The database is unavailable; retry later.",
}


def problem_responses(*statuses: int) -> dict:
    return {
        str(status): {
            "description": PROBLEM_DESCRIPTIONS[status],
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for status in statuses
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
                "responses": {"200": _status_response("Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "summary": "Readiness: the database is reachable",
                "responses": {"200": _status_response("Ready."), **problem_responses(503)},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
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
                    }
                },
            }
        },
    }
