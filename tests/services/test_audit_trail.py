"""Exactly one audit event per request under /items, delivered over HTTP to
audit-service and checked in audit_logs (DESIGN §3)."""

import json

import pytest

from items_service.outbox_relay import DeliveryFailed, OutboxRelay
from tests.support.services import AUDIT_TOKEN


def audit_rows(database) -> list[dict]:
    rows = database.query(
        "SELECT action, resource_id, status_code, request_id, service, resource_type, details"
        " FROM audit_logs ORDER BY occurred_at, id"
    )
    keys = (
        "action",
        "resource_id",
        "status_code",
        "request_id",
        "service",
        "resource_type",
        "details",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


@pytest.fixture
def item_id(items, database, deliver):
    """An existing item, its own audit event already delivered and cleared."""
    identifier = items.post("/items", json={"name": "existing"}).get_json()["id"]
    deliver()
    database.query("TRUNCATE audit_logs; SELECT 1")
    return identifier


REQUESTS = [
    # method, path template, body, expected action, resource id template, status
    ("POST", "/items", {"name": "new"}, "item.create", None, 201),
    ("POST", "/items", {"name": ""}, "item.create", None, 400),
    ("GET", "/items", None, "item.list", None, 200),
    ("GET", "/items?limit=0", None, "item.list", None, 400),
    ("GET", "/items/{id}", None, "item.read", "{id}", 200),
    ("GET", "/items/999999", None, "item.read", "999999", 404),
    ("GET", "/items/abc", None, "item.read", "abc", 404),
    ("PUT", "/items/{id}", {"name": "renamed"}, "item.update", "{id}", 200),
    ("PUT", "/items/{id}", {"bad": 1}, "item.update", "{id}", 400),
    ("PATCH", "/items/{id}", {"name": "x"}, "item.update", "{id}", 405),
    ("DELETE", "/items/{id}", None, "item.delete", "{id}", 204),
    ("DELETE", "/items/999999", None, "item.delete", "999999", 404),
    ("DELETE", "/items", None, "item.delete", None, 405),
    ("POST", "/items/{id}", {"name": "x"}, "item.create", "{id}", 405),
]


@pytest.mark.parametrize("method, path, body, action, resource_id, status", REQUESTS)
def test_each_request_under_items_is_audited_exactly_once(
    items, database, deliver, item_id, method, path, body, action, resource_id, status
):
    path = path.format(id=item_id)
    response = items.open(path, method=method, json=body, headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == status

    deliver()

    [row] = audit_rows(database)
    assert row["action"] == action
    assert row["resource_id"] == (resource_id.format(id=item_id) if resource_id else None)
    assert row["status_code"] == status
    assert row["request_id"] == "trace-me-1"
    assert (row["service"], row["resource_type"]) == ("items-service", "item")
    assert database.count("audit_outbox") == 0


def test_event_details_describe_the_operation(items, database, deliver):
    item = items.post("/items", json={"name": "first", "description": "d"}).get_json()
    items.put(f"/items/{item['id']}", json={"name": "second", "description": "d"})
    items.get("/items?limit=5")
    deliver()

    details = [row["details"] for row in audit_rows(database)]

    assert details[0] == {"item_id": item["id"], "name": "first"}
    assert details[1] == {"changed": ["name"]}
    assert details[2] == {"count": 1, "limit": 5, "after": 0}


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_head_and_options_are_not_audited(items, database, deliver, method):
    items.open("/items", method=method)
    deliver()

    assert audit_rows(database) == []


def test_requests_outside_items_are_not_audited(items, database, deliver):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nowhere"):
        items.get(path)
    deliver()

    assert audit_rows(database) == []


def test_a_long_resource_id_is_cut_to_64_characters(items, database, deliver):
    items.get("/items/" + "x" * 100)
    deliver()

    assert audit_rows(database)[0]["resource_id"] == "x" * 64


def test_an_item_change_and_its_event_are_committed_together(items, database):
    """The event is in the outbox as soon as the response is sent, before any delivery."""
    item = items.post("/items", json={"name": "atomic"}).get_json()

    [(payload,)] = database.query("SELECT payload FROM audit_outbox")
    assert payload["action"] == "item.create"
    assert payload["details"]["item_id"] == item["id"]


def test_audit_service_unreachable_keeps_events_in_the_outbox(items, database, items_app):
    unreachable = OutboxRelay(items_app.extensions["database"], "http://127.0.0.1:9", AUDIT_TOKEN)
    response = items.post("/items", json={"name": "kept"})
    assert response.status_code == 201

    with pytest.raises(DeliveryFailed):
        unreachable.deliver_pending()

    assert database.query("SELECT attempts, failed_at IS NULL FROM audit_outbox") == [(1, True)]
    assert audit_rows(database) == []


def test_a_wrong_token_keeps_events_in_the_outbox(items, database, items_app, audit_server):
    relay = OutboxRelay(items_app.extensions["database"], audit_server, "not-the-token-000000")
    items.post("/items", json={"name": "kept"})

    with pytest.raises(DeliveryFailed, match="401"):
        relay.deliver_pending()

    assert database.count("audit_outbox") == 1


def test_a_rejected_event_is_isolated_and_the_rest_delivered(items, database, deliver):
    items.post("/items", json={"name": "before"})
    [(payload,)] = database.query("SELECT payload FROM audit_outbox")
    broken = {**payload, "event_id": "3f1c0c36-0000-4000-8000-000000000001", "status_code": 42}
    database.query(
        "INSERT INTO audit_outbox (event_id, payload) VALUES (%s, %s); SELECT 1",
        (broken["event_id"], json.dumps(broken)),
    )
    items.post("/items", json={"name": "after"})

    delivered = deliver()

    assert delivered == 2
    assert [row["action"] for row in audit_rows(database)] == ["item.create", "item.create"]
    [(event_id, failed, error)] = database.query(
        "SELECT event_id::text, failed_at IS NOT NULL, last_error FROM audit_outbox"
    )
    assert event_id == broken["event_id"] and failed
    assert "status_code" in error
    assert deliver() == 0, "a rejected event is not retried"
