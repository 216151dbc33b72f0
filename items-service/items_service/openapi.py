"""The OpenAPI 3.1 document of items-service, served at /openapi.json.

It is the contract clients and the fuzzing tests rely on: every status a
route can answer is listed, with its body and headers.
"""

from items_service.validation import (
    DEFAULT_LIMIT,
    DESCRIPTION_MAX_LENGTH,
    MAX_BODY_BYTES,
    MAX_ID,
    MAX_LIMIT,
    NAME_MAX_LENGTH,
)
from service_common.openapi import (
    NO_NUL,
    PROBLEM_SCHEMA,
    operational_paths,
    problem_responses,
    with_head_operations,
)

# At least one character that is not whitespace, and no NUL anywhere.
NAME_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"

ITEM = {
    "type": "object",
    "required": ["id", "name", "description", "created_at", "updated_at"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LENGTH},
        "description": {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
ITEM_INPUT = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": NAME_MAX_LENGTH,
            "pattern": NAME_PATTERN,
            "description": "Stored without leading and trailing whitespace.",
        },
        "description": {
            "type": "string",
            "maxLength": DESCRIPTION_MAX_LENGTH,
            "pattern": NO_NUL,
            "default": "",
        },
    },
}
ITEM_ID_PARAMETER = {
    "name": "item_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemInput"}}},
}


def _item_response(description: str, links: tuple[str, ...], headers: dict | None = None) -> dict:
    response = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
        # What a client can do next with the item in the body: lets a stateful
        # fuzzer chain create -> read -> update -> delete.
        "links": {
            operation_id: {
                "operationId": operation_id,
                "parameters": {"item_id": "$response.body#/id"},
            }
            for operation_id in links
        },
    }
    if headers:
        response["headers"] = headers
    return response


DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "items-service",
        "version": "1.0.0",
        "description": "Public REST API over items. Every request to /items or /items/..."
        " with method GET, HEAD, POST, PUT, PATCH or DELETE that is answered with a status"
        " below 500 is audited, with exactly one event.",
    },
    "paths": with_head_operations(
        {
            "/items": {
                "post": {
                    "operationId": "createItem",
                    "summary": "Create an item",
                    "requestBody": JSON_BODY,
                    "responses": {
                        "201": _item_response(
                            "The item created.",
                            ("getItem", "replaceItem", "deleteItem"),
                            {
                                "Location": {
                                    "description": "The path of the new item.",
                                    "required": True,
                                    "schema": {"type": "string"},
                                }
                            },
                        ),
                        **problem_responses(400, 415, 503, body_limit=MAX_BODY_BYTES),
                    },
                },
                "get": {
                    "operationId": "listItems",
                    "summary": "List items in id order, a page at a time",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_LIMIT,
                                "default": DEFAULT_LIMIT,
                            },
                        },
                        {
                            "name": "after",
                            "in": "query",
                            "required": False,
                            "description": (
                                "Return items whose id is greater than this (keyset cursor)."
                            ),
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of items.",
                            "headers": {
                                "Link": {
                                    "description": (
                                        'The next page, as <...>; rel="next", when more remain.'
                                    ),
                                    "schema": {"type": "string"},
                                }
                            },
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "maxItems": MAX_LIMIT,
                                        "items": {"$ref": "#/components/schemas/Item"},
                                    }
                                }
                            },
                        },
                        **problem_responses(400, 503),
                    },
                },
            },
            "/items/{item_id}": {
                "parameters": [ITEM_ID_PARAMETER],
                "get": {
                    "operationId": "getItem",
                    "summary": "Read an item",
                    "responses": {
                        "200": _item_response("The item.", ("replaceItem", "deleteItem")),
                        **problem_responses(404, 503),
                    },
                },
                "put": {
                    "operationId": "replaceItem",
                    "summary": "Replace an item's name and description",
                    "requestBody": JSON_BODY,
                    "responses": {
                        "200": _item_response("The item as stored.", ("getItem", "deleteItem")),
                        **problem_responses(400, 404, 415, 503, body_limit=MAX_BODY_BYTES),
                    },
                },
                "delete": {
                    "operationId": "deleteItem",
                    "summary": "Delete an item",
                    "responses": {
                        "204": {"description": "Deleted."},
                        **problem_responses(404, 503),
                    },
                },
            },
            **operational_paths(),
        }
    ),
    "components": {
        "schemas": {
            "Item": ITEM,
            "ItemInput": ITEM_INPUT,
            "Problem": PROBLEM_SCHEMA,
        }
    },
}
