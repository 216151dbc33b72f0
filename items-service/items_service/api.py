"""The public items API (DESIGN §2). Every route here is audited: each view
builds its request's event, and the statement that does the work writes it
(store.py)."""

from flask import Blueprint, Response, request

from items_service import audit_recorder, store, validation
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


def _absent(problem: Problem) -> dict:
    """The event's answer should the item be absent."""
    return audit_recorder.answer(problem.status, audit_recorder.error_details(problem.detail))


def _json(text: str, status: int = 200) -> Response:
    """An answer whose JSON the database rendered (store.py)."""
    return Response(f"{text}\n", status=status, mimetype="application/json")


def _item_path(item_id: int) -> str:
    return f"{request.script_root}/items/{item_id}"


@blueprint.post("/items")
def create_item():
    fields = validation.item_fields(read_json_body())
    item_id, item = store.insert(fields, audit_recorder.event(201, {"name": fields.name}))
    ITEMS_CREATED.inc()
    response = _json(item, 201)
    response.headers["Location"] = _item_path(item_id)
    return response


@blueprint.get("/items")
def list_items():
    page = validation.page(request.args)
    listed = audit_recorder.event(200, {"count": 0, "limit": page.limit, "after": page.after})
    items = store.list_after(page.after, page.limit, listed)
    ITEMS_RETRIEVED.inc(items.count)
    response = _json(items.json)
    if items.more:
        next_page = f"{request.script_root}/items?limit={page.limit}&after={items.last_id}"
        response.headers["Link"] = f'<{next_page}>; rel="next"'
    return response


@blueprint.get("/items/<item_id>")
def get_item(item_id: str):
    identifier = _existing_id(item_id)
    absent = _not_found(identifier)
    item = store.get(identifier, audit_recorder.event(200), _absent(absent))
    if item is None:
        raise absent
    ITEMS_RETRIEVED.inc()
    return _json(item)


@blueprint.put("/items/<item_id>")
def replace_item(item_id: str):
    identifier = _existing_id(item_id)
    fields = validation.item_fields(read_json_body())
    absent = _not_found(identifier)
    replaced = audit_recorder.event(200, {"changed": []})
    item = store.replace(identifier, fields, replaced, _absent(absent))
    if item is None:
        raise absent
    ITEMS_UPDATED.inc()
    return _json(item)


@blueprint.delete("/items/<item_id>")
def delete_item(item_id: str):
    identifier = _existing_id(item_id)
    absent = _not_found(identifier)
    if not store.delete(identifier, audit_recorder.event(204), _absent(absent)):
        raise absent
    ITEMS_DELETED.inc()
    return "", 204
