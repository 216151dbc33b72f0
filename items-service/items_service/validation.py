"""Validation of what clients send to items-service (DESIGN §2)."""

import re
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from service_common.json_body import storable_text
from service_common.problems import Problem

# The largest body items-service reads: an item is far smaller.
MAX_BODY_BYTES = 64 * 1024
NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 2000
ITEM_FIELDS = ("name", "description")
MAX_ID = 2**63 - 1  # PostgreSQL bigint
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class ItemFields:
    name: str
    description: str


@dataclass(frozen=True)
class Page:
    limit: int
    after: int


def _text_error(field: str, value, max_length: int) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > max_length:
        return f"must be at most {max_length} characters long"
    if not storable_text(value):
        return "must not contain NUL characters or unpaired surrogates"
    return None


def item_fields(body) -> ItemFields:
    """The name (trimmed) and description of a create or full replacement."""
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object.")
    errors = [
        {"field": field, "message": "is not a known field"}
        for field in body
        if field not in ITEM_FIELDS
    ]
    name = body.get("name")
    if "name" not in body:
        errors.append({"field": "name", "message": "is required"})
    elif message := _text_error("name", name, NAME_MAX_LENGTH):
        errors.append({"field": "name", "message": message})
    elif not name.strip():
        errors.append({"field": "name", "message": "must not be empty or only whitespace"})
    description = body.get("description", "")
    if message := _text_error("description", description, DESCRIPTION_MAX_LENGTH):
        errors.append({"field": "description", "message": message})
    if errors:
        raise Problem(400, "The item is invalid.", errors=errors)
    return ItemFields(name=name.strip(), description=description)


def item_id(raw: str) -> int | None:
    """The id in a member path, or None when it is not an id that can exist (404)."""
    if not DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_ID else None


def page(args: MultiDict) -> Page:
    errors = []
    limit, after = DEFAULT_LIMIT, 0
    raw_limit = args.get("limit")
    if raw_limit is not None:
        if DIGITS.fullmatch(raw_limit) and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors.append(
                {"field": "limit", "message": f"must be an integer from 1 to {MAX_LIMIT}"}
            )
    raw_after = args.get("after")
    if raw_after is not None:
        if DIGITS.fullmatch(raw_after) and int(raw_after) <= MAX_ID:
            after = int(raw_after)
        else:
            errors.append(
                {"field": "after", "message": "must be an item id (a non-negative integer)"}
            )
    if errors:
        raise Problem(400, "The query parameters are invalid.", errors=errors)
    return Page(limit=limit, after=after)
