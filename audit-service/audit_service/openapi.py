"""The OpenAPI 3.1 document of audit-service, served at /openapi.json."""

from audit_service.validation import ACTION, MAX_BATCH, MAX_BODY_BYTES, REQUIRED, TEXT_LIMITS
from service_common.openapi import (
    NO_NUL,
    PROBLEM_SCHEMA,
    operational_paths,
    problem_responses,
    with_head_operations,
)


def _text(field: str) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": TEXT_LIMITS[field], "pattern": NO_NUL}


# Any JSON value that jsonb can hold.
STORABLE_OBJECT = {
    "type": "object",
    "propertyNames": {"pattern": NO_NUL},
    "additionalProperties": {"$ref": "#/components/schemas/StorableJson"},
}
STORABLE_JSON = {
    "anyOf": [
        {"type": ["null", "boolean", "number"]},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": "#/components/schemas/StorableJson"}},
        STORABLE_OBJECT,
    ]
}

EVENT = {
    "type": "object",
    "additionalProperties": False,
    "required": list(REQUIRED),
    "properties": {
        "event_id": {"type": "string", "format": "uuid"},
        "occurred_at": {
            "type": "string",
            "format": "date-time",
            "description": "Stored in UTC; must fall within the years 0001-9999 in UTC.",
        },
        "service": _text("service"),
        "action": {
            "type": "string",
            "maxLength": TEXT_LIMITS["action"],
            "pattern": f"^{ACTION.pattern}$",
            "examples": ["item.create"],
        },
        "resource_type": _text("resource_type"),
        "resource_id": {"anyOf": [_text("resource_id"), {"type": "null"}]},
        "status_code": {"type": "integer", "minimum": 100, "maximum": 599},
        "request_id": _text("request_id"),
        "client_ip": {
            "anyOf": [
                {"type": "string", "format": "ipv4"},
                {"type": "string", "format": "ipv6"},
                {"type": "null"},
            ]
        },
        "details": {
            "description": "Small JSON: at most 16 levels deep and 16 KiB as JSON;"
            " no NUL character in any key or string (PostgreSQL's jsonb cannot hold one).",
            "default": {},
            **STORABLE_OBJECT,
        },
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "audit-service",
        "version": "1.0.0",
        "description": "Internal: stores audit events, each at most once (by event_id).",
    },
    "paths": with_head_operations(
        {
            "/events": {
                "post": {
                    "operationId": "storeEvents",
                    "summary": "Store one event or a batch; 200 only after commit",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [
                                        {"$ref": "#/components/schemas/Event"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": MAX_BATCH,
                                            "items": {"$ref": "#/components/schemas/Event"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "Stored; duplicates (already stored) were dropped.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["stored", "duplicate"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "stored": {"type": "integer", "minimum": 0},
                                            "duplicate": {"type": "integer", "minimum": 0},
                                        },
                                    }
                                }
                            },
                        },
                        **problem_responses(400, 401, 409, 415, 503, body_limit=MAX_BODY_BYTES),
                    },
                }
            },
            **operational_paths(),
        }
    ),
    "components": {
        "schemas": {"Event": EVENT, "StorableJson": STORABLE_JSON, "Problem": PROBLEM_SCHEMA},
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}
