"""SQL for the items table. Each statement makes the request's change and
writes its audit event (DESIGN §3): one statement, so one round trip and one
atomic transaction. The caller builds the event of the answer it expects and
how the answer differs when the item is absent; the statement completes the
event with what only it knows (a new item's id, the fields a replacement
changed, the number of items a page holds).

Items come back as the API shows them (DESIGN §2), rendered as JSON by
PostgreSQL, so that no Python object is made per item or per field."""

import json
from dataclasses import dataclass

from items_service import request_connection
from items_service.outbox import write_event
from items_service.validation import ItemFields
from service_common.database import Statement

RETURNED = "id, name, description, created_at, updated_at"


def _rfc3339(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


SHOWN = (
    f"SELECT id, name, description, {_rfc3339('created_at')} AS created_at,"
    f" {_rfc3339('updated_at')} AS updated_at"
)
# The id and JSON of the item in the `item` query, if there is one.
ITEM_JSON = f"SELECT id, row_to_json(shown)::text FROM ({SHOWN} FROM item) AS shown"

# What each statement writes to the outbox, from the caller's event ($n).
CREATED_EVENT = write_event(
    "(SELECT jsonb_set(jsonb_set($3::jsonb, '{resource_id}', to_jsonb(id::text)),"
    " '{details,item_id}', to_jsonb(id)) FROM item)"
)
LISTED_EVENT = write_event(
    "jsonb_set($3::jsonb, '{details,count}',"
    " to_jsonb(least((SELECT count(*) FROM page), $2::integer)))"
)
FOUND_OR_ABSENT_EVENT = write_event(
    "CASE WHEN EXISTS (SELECT FROM item) THEN $2::jsonb ELSE $2::jsonb || $3::jsonb END"
)
REPLACED_OR_ABSENT_EVENT = write_event(
    "coalesce((SELECT jsonb_set($4::jsonb, '{details,changed}', to_jsonb(changed)) FROM item),"
    " $4::jsonb || $5::jsonb)"
)

INSERT = Statement(
    "item_insert",
    f"""
    WITH item AS (
        INSERT INTO items (name, description) VALUES ($1, $2) RETURNING {RETURNED}
    ), {CREATED_EVENT}
    {ITEM_JSON}
    """,
)
LIST = Statement(
    "item_list",
    f"""
    WITH page AS (
        SELECT {RETURNED} FROM items WHERE id > $1 ORDER BY id LIMIT $2::integer + 1
    ), {LISTED_EVENT}
    SELECT coalesce('[' || string_agg(row_to_json(shown)::text, ',' ORDER BY id) || ']', '[]'),
        count(*), max(id), (SELECT count(*) FROM page) > $2::integer
    FROM ({SHOWN} FROM page ORDER BY id LIMIT $2::integer) AS shown
    """,
)
SELECT = Statement(
    "item_select",
    f"""
    WITH item AS (SELECT {RETURNED} FROM items WHERE id = $1), {FOUND_OR_ABSENT_EVENT}
    {ITEM_JSON}
    """,
)
UPDATE = Statement(
    "item_update",
    f"""
    WITH old AS (
        SELECT id, name, description FROM items WHERE id = $1 FOR UPDATE
    ), item AS (
        UPDATE items AS new
        SET name = $2, description = $3, updated_at = now()
        FROM old
        WHERE new.id = old.id
        RETURNING new.id, new.name, new.description, new.created_at, new.updated_at,
            array_remove(ARRAY[
                CASE WHEN new.name <> old.name THEN 'name' END,
                CASE WHEN new.description <> old.description THEN 'description' END
            ], NULL) AS changed
    ), {REPLACED_OR_ABSENT_EVENT}
    {ITEM_JSON}
    """,
)
DELETE = Statement(
    "item_delete",
    f"""
    WITH item AS (DELETE FROM items WHERE id = $1 RETURNING id), {FOUND_OR_ABSENT_EVENT}
    SELECT count(*) FROM item
    """,
)


@dataclass(frozen=True)
class Page:
    json: str  # a JSON array of the items
    count: int
    last_id: int | None
    more: bool  # whether items remain after the last one


def insert(fields: ItemFields, created: dict) -> tuple[int, str]:
    """The new item's id and JSON; `created` gets the id as resource_id and
    details.item_id."""
    with request_connection.execute_with_event(
        INSERT, (fields.name, fields.description, json.dumps(created))
    ) as cursor:
        return cursor.fetchone()


def list_after(after: int, limit: int, listed: dict) -> Page:
    """Up to `limit` items with id > after, in id order; `listed` gets their
    number as details.count."""
    with request_connection.execute_with_event(LIST, (after, limit, json.dumps(listed))) as cursor:
        return Page(*cursor.fetchone())


def get(item_id: int, found: dict, absent: dict) -> str | None:
    """The item's JSON, or None; `found` is the event, `absent` its answer
    (audit_recorder.answer) when there is no such item."""
    with request_connection.execute_with_event(
        SELECT, (item_id, json.dumps(found), json.dumps(absent))
    ) as cursor:
        row = cursor.fetchone()
    return row[1] if row else None


def replace(item_id: int, fields: ItemFields, replaced: dict, absent: dict) -> str | None:
    """The updated item's JSON, or None; `replaced` gets the names of the
    fields whose value changed as details.changed."""
    with request_connection.execute_with_event(
        UPDATE,
        (item_id, fields.name, fields.description, json.dumps(replaced), json.dumps(absent)),
    ) as cursor:
        row = cursor.fetchone()
    return row[1] if row else None


def delete(item_id: int, deleted: dict, absent: dict) -> bool:
    with request_connection.execute_with_event(
        DELETE, (item_id, json.dumps(deleted), json.dumps(absent))
    ) as cursor:
        return cursor.fetchone()[0] == 1
