"""SQL for the items table, run inside the request's transaction."""

from datetime import UTC

from items_service.validation import ItemFields
from service_common.database import execute

COLUMNS = "id, name, description, created_at, updated_at"


def _rfc3339(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _item(row) -> dict:
    item_id, name, description, created_at, updated_at = row
    return {
        "id": item_id,
        "name": name,
        "description": description,
        "created_at": _rfc3339(created_at),
        "updated_at": _rfc3339(updated_at),
    }


def insert(cursor, fields: ItemFields) -> dict:
    execute(
        cursor,
        "item_insert",
        f"INSERT INTO items (name, description) VALUES (%s, %s) RETURNING {COLUMNS}",
        (fields.name, fields.description),
    )
    return _item(cursor.fetchone())


def list_after(cursor, after: int, limit: int) -> tuple[list[dict], bool]:
    """Up to `limit` items with id > after, in id order, and whether more remain."""
    execute(
        cursor,
        "item_list",
        f"SELECT {COLUMNS} FROM items WHERE id > %s ORDER BY id LIMIT %s",
        (after, limit + 1),
    )
    rows = cursor.fetchall()
    return [_item(row) for row in rows[:limit]], len(rows) > limit


def get(cursor, item_id: int) -> dict | None:
    execute(cursor, "item_select", f"SELECT {COLUMNS} FROM items WHERE id = %s", (item_id,))
    row = cursor.fetchone()
    return _item(row) if row else None


def replace(cursor, item_id: int, fields: ItemFields) -> tuple[dict, list[str]] | None:
    """The updated item and the names of the fields whose value changed."""
    execute(
        cursor,
        "item_update",
        """
        UPDATE items AS new
        SET name = %s, description = %s, updated_at = now()
        FROM (SELECT id, name, description FROM items WHERE id = %s FOR UPDATE) AS old
        WHERE new.id = old.id
        RETURNING new.id, new.name, new.description, new.created_at, new.updated_at,
                  old.name, old.description
        """,
        (fields.name, fields.description, item_id),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    old_name, old_description = row[5], row[6]
    changed = [
        field
        for field, old, new in (
            ("name", old_name, fields.name),
            ("description", old_description, fields.description),
        )
        if old != new
    ]
    return _item(row[:5]), changed


def delete(cursor, item_id: int) -> bool:
    execute(cursor, "item_delete", "DELETE FROM items WHERE id = %s", (item_id,))
    return cursor.rowcount == 1
