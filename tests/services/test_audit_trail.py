"""The audit rule (DESIGN §3), delivered over HTTP to audit-service and checked
in audit_logs: every request to /items or /items/... with method GET, HEAD,
POST, PUT, PATCH or DELETE that the application answers below 500 has exactly
one event; no other request has one. (The 503 while the database is
unreachable is tested with real processes: tests/integration/test_readiness.py.)"""

import json

import pytest

from items_service.outbox_relay import DeliveryFailed, OutboxRelay
from tests.support.assertions import assert_problem
from tests.support.faults import writes_refused
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


NEW_ID = object()  # stands for the id of the item the request created
INVALID_ITEM = {"error": "The item is invalid."}
INVALID_QUERY = {"error": "The query parameters are invalid."}
ABSENT = {"error": "There is no item with id 999999."}
NOT_ALLOWED = {"error": "The method is not allowed for the requested URL."}
FIRST_PAGE = {"count": 1, "limit": 100, "after": 0}
CREATED = {"item_id": NEW_ID, "name": "new"}
NOT_AN_ID = {"error": "There is no item with id 'abc'.", "requested_id": "abc"}
NO_ROUTE = {
    "error": "The requested URL was not found on the server. If you entered the URL manually"
    " please check your spelling and try again.",
    "requested_id": "/{id}",
}

# "{id}" stands for the existing item's id; the details are the event's, exactly.
AUDITED = [
    # method, path, body, status, action, resource id, details
    ("POST", "/items", {"name": "new"}, 201, "item.create", NEW_ID, CREATED),
    ("POST", "/items", {"name": ""}, 400, "item.create", None, INVALID_ITEM),
    ("GET", "/items", None, 200, "item.list", None, FIRST_PAGE),
    ("HEAD", "/items", None, 200, "item.list", None, FIRST_PAGE),
    ("GET", "/items?limit=0", None, 400, "item.list", None, INVALID_QUERY),
    ("GET", "/items/{id}", None, 200, "item.read", "{id}", {}),
    ("HEAD", "/items/{id}", None, 200, "item.read", "{id}", {}),
    ("GET", "/items/999999", None, 404, "item.read", "999999", ABSENT),
    ("HEAD", "/items/999999", None, 404, "item.read", "999999", ABSENT),
    ("GET", "/items/abc", None, 404, "item.read", None, NOT_AN_ID),
    ("GET", "/items//{id}", None, 404, "item.read", None, NO_ROUTE),
    ("PUT", "/items/{id}", {"name": "renamed"}, 200, "item.update", "{id}", {"changed": ["name"]}),
    ("PUT", "/items/{id}", {"bad": 1}, 400, "item.update", "{id}", INVALID_ITEM),
    ("PATCH", "/items/{id}", {"name": "x"}, 405, "item.update", "{id}", NOT_ALLOWED),
    ("DELETE", "/items/{id}", None, 204, "item.delete", "{id}", {}),
    ("DELETE", "/items/999999", None, 404, "item.delete", "999999", ABSENT),
    ("DELETE", "/items", None, 405, "item.delete", None, NOT_ALLOWED),
    ("POST", "/items/{id}", {"name": "x"}, 405, "item.create", "{id}", NOT_ALLOWED),
]


def _filled(expected, item_id: int, new_id: int | None):
    if expected is NEW_ID:
        return new_id
    if isinstance(expected, str):
        return expected.format(id=item_id)
    if isinstance(expected, dict):
        return {key: _filled(value, item_id, new_id) for key, value in expected.items()}
    return expected


@pytest.mark.parametrize("method, path, body, status, action, resource_id, details", AUDITED)
def test_each_request_under_items_is_audited_exactly_once(
    items, database, deliver, item_id, method, path, body, status, action, resource_id, details
):
    response = items.open(
        path.format(id=item_id), method=method, json=body, headers={"X-Request-ID": "trace-me-1"}
    )
    assert response.status_code == status
    new_id = response.get_json()["id"] if status == 201 else None

    deliver()

    [row] = audit_rows(database)
    assert row["action"] == action
    expected_id = _filled(resource_id, item_id, new_id)
    assert row["resource_id"] == (None if expected_id is None else str(expected_id))
    assert row["status_code"] == status
    assert row["request_id"] == "trace-me-1"
    assert (row["service"], row["resource_type"]) == ("items-service", "item")
    assert row["details"] == _filled(details, item_id, new_id)
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


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "BREW"])
@pytest.mark.parametrize("path", ["/items", "/items/{id}"])
def test_methods_that_touch_no_item_are_not_audited(
    items, database, deliver, item_id, method, path
):
    response = items.open(path.format(id=item_id), method=method)
    assert response.status_code in (200, 405)

    deliver()

    assert audit_rows(database) == []


def test_requests_outside_items_are_not_audited(items, database, deliver):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/nowhere", "/itemsx"):
        items.get(path)
    deliver()

    assert audit_rows(database) == []


@pytest.mark.parametrize("segment", ["0042", "000000000000000042", "42"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_event_names_the_item_by_its_canonical_id(items, database, deliver, method, segment):
    database.query(
        "INSERT INTO items (id, name) OVERRIDING SYSTEM VALUE VALUES (42, 'forty-two'); SELECT 1"
    )
    body = {"name": "renamed"} if method == "PUT" else None
    response = items.open(f"/items/{segment}", method=method, json=body)
    assert response.status_code in (200, 204)

    deliver()

    [row] = audit_rows(database)
    assert row["resource_id"] == "42", "the item's history is found by its id"
    if segment == "42":
        assert "requested_id" not in row["details"]
    else:
        assert row["details"]["requested_id"] == segment, "what the client wrote is kept"


def test_a_long_path_segment_is_kept_cut_to_64_characters(items, database, deliver):
    items.get("/items/" + "x" * 100)
    deliver()

    [row] = audit_rows(database)
    assert row["resource_id"] is None
    assert row["details"]["requested_id"] == "x" * 64


def test_an_item_change_and_its_event_are_committed_together(items, database):
    """The event is in the outbox as soon as the response is sent, before any delivery."""
    item = items.post("/items", json={"name": "atomic"}).get_json()

    [(payload,)] = database.query("SELECT payload FROM audit_outbox")
    assert payload["action"] == "item.create"
    assert payload["details"]["item_id"] == item["id"]


REFUSED_MARKER = "refuse-this-event"


@pytest.fixture
def outbox_refusing_a_marked_event(database):
    """The outbox refuses the event of a request whose X-Request-ID is the
    marker: the event's insert fails after the item change was made."""
    with writes_refused(
        database, "audit_outbox", "INSERT", when=f"NEW.payload->>'request_id' = '{REFUSED_MARKER}'"
    ):
        yield


@pytest.mark.usefixtures("outbox_refusing_a_marked_event")
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_an_item_change_whose_event_cannot_be_written_is_not_stored(items, database, method):
    existing = items.post("/items", json={"name": "before"}).get_json()
    stored_before = database.query("SELECT id, name, updated_at FROM items ORDER BY id")
    events_before = database.count("audit_outbox")
    path = "/items" if method == "POST" else f"/items/{existing['id']}"
    body = {"name": "after"} if method in ("POST", "PUT") else None

    response = items.open(path, method=method, json=body, headers={"X-Request-ID": REFUSED_MARKER})

    assert_problem(response, 500)
    assert database.query("SELECT id, name, updated_at FROM items ORDER BY id") == stored_before
    assert database.count("audit_outbox") == events_before


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


def test_an_event_whose_id_is_stored_with_other_content_is_isolated(items, database, deliver):
    items.post("/items", json={"name": "first"})
    deliver()
    [(event_id, stored_status)] = database.query(
        "SELECT event_id::text, status_code FROM audit_logs"
    )
    items.post("/items", json={"name": "second"})
    [(payload,)] = database.query("SELECT payload FROM audit_outbox")
    reused = {**payload, "event_id": event_id}
    database.query(
        "INSERT INTO audit_outbox (event_id, payload) VALUES (%s, %s); SELECT 1",
        (event_id, json.dumps(reused)),
    )

    assert deliver() == 1, "the other event is delivered"

    [(kept_id, failed, error)] = database.query(
        "SELECT event_id::text, failed_at IS NOT NULL, last_error FROM audit_outbox"
    )
    assert (kept_id, failed) == (event_id, True)
    assert error == (
        "event_id: is already stored with other content: an event id names one event only"
    )
    assert database.query(
        "SELECT status_code, details->>'name' FROM audit_logs WHERE event_id = %s", (event_id,)
    ) == [(stored_status, "first")]


def test_a_relay_delivers_past_rows_another_relay_holds(items, database, deliver):
    """Relays in other workers and replicas claim rows with FOR UPDATE SKIP
    LOCKED: a row another one holds is passed over, never waited for."""
    items.post("/items", json={"name": "held"}, headers={"X-Request-ID": "held-by-other"})
    items.post("/items", json={"name": "free"}, headers={"X-Request-ID": "free-to-go"})
    other_relay = database.connect()
    other_relay.autocommit = False
    try:
        with other_relay.cursor() as cursor:
            cursor.execute("SELECT id FROM audit_outbox ORDER BY id LIMIT 1 FOR UPDATE")

            # Waiting for the lock instead would end in the relay's 5 s statement timeout.
            delivered = deliver()

        assert delivered == 1
        assert [row["request_id"] for row in audit_rows(database)] == ["free-to-go"]
        other_relay.rollback()
        assert deliver() == 1, "the row is delivered once its holder lets go"
    finally:
        other_relay.close()
    assert sorted(row["request_id"] for row in audit_rows(database)) == [
        "free-to-go",
        "held-by-other",
    ]
