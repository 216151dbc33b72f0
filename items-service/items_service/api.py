"""The public items API (DESIGN §2). Every route here is audited (audit_recorder.py)."""

from flask import Blueprint, g, jsonify, request, url_for

from items_service import request_transaction, store, validation
from items_service.metrics import ITEMS_CREATED, ITEMS_DELETED, ITEMS_RETRIEVED, ITEMS_UPDATED
from service_common.json_body import read_json_body
from service_common.problems import Problem

blueprint = Blueprint("items", __name__)


def _existing_id(raw: str) -> int:
    item_id = validation.item_id(raw)
    if item_id is None:
        raise Problem(404, f"There is no item with id {raw[:64]!r}.")
    return item_id


def _not_found(item_id: int) -> Problem:
    return Problem(404, f"There is no item with id {item_id}.")


@blueprint.post("/items")
def create_item():
    fields = validation.item_fields(read_json_body())
    with request_transaction.cursor() as cursor:
        item = store.insert(cursor, fields)
    request_transaction.on_commit(ITEMS_CREATED.inc)
    g.audit_created_item_id = item["id"]
    g.audit_details = {"item_id": item["id"], "name": item["name"]}
    response = jsonify(item)
    response.status_code = 201
    response.headers["Location"] = url_for("items.get_item", item_id=item["id"])
    return response


@blueprint.get("/items")
def list_items():
    page = validation.page(request.args)
    with request_transaction.cursor() as cursor:
        items, more = store.list_after(cursor, page.after, page.limit)
    request_transaction.on_commit(lambda: ITEMS_RETRIEVED.inc(len(items)))
    g.audit_details = {"count": len(items), "limit": page.limit, "after": page.after}
    response = jsonify(items)
    if more:
        next_page = url_for("items.list_items", limit=page.limit, after=items[-1]["id"])
        response.headers["Link"] = f'<{next_page}>; rel="next"'
    return response


@blueprint.get("/items/<item_id>")
def get_item(item_id: str):
    identifier = _existing_id(item_id)
    with request_transaction.cursor() as cursor:
        item = store.get(cursor, identifier)
    if item is None:
        raise _not_found(identifier)
    request_transaction.on_commit(ITEMS_RETRIEVED.inc)
    return jsonify(item)


@blueprint.put("/items/<item_id>")
def replace_item(item_id: str):
    identifier = _existing_id(item_id)
    fields = validation.item_fields(read_json_body())
    with request_transaction.cursor() as cursor:
        result = store.replace(cursor, identifier, fields)
    if result is None:
        raise _not_found(identifier)
    item, changed = result
    request_transaction.on_commit(ITEMS_UPDATED.inc)
    g.audit_details = {"changed": changed}
    return jsonify(item)


@blueprint.delete("/items/<item_id>")
def delete_item(item_id: str):
    identifier = _existing_id(item_id)
    with request_transaction.cursor() as cursor:
        deleted = store.delete(cursor, identifier)
    if not deleted:
        raise _not_found(identifier)
    request_transaction.on_commit(ITEMS_DELETED.inc)
    return "", 204
