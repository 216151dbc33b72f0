"""audit-service's POST /events (DESIGN §3): authenticated, validated, idempotent."""

import json
import uuid

import pytest

from tests.support.assertions import assert_problem, error_fields
from tests.support.services import AUDIT_TOKEN

AUTH = {"Authorization": f"Bearer {AUDIT_TOKEN}"}


def event(**overrides) -> dict:
    base = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-11-25T10:00:00.123456Z",
        "service": "items-service",
        "action": "item.create",
        "resource_type": "item",
        "resource_id": None,
        "status_code": 201,
        "request_id": "req-1",
        "client_ip": "10.0.0.7",
        "details": {"name": "Test Item"},
    }
    base.update(overrides)
    return base


def post_events(audit, body, headers=AUTH):
    return audit.post("/events", json=body, headers=headers)


def stored_rows(database) -> list[tuple]:
    return database.query(
        "SELECT event_id::text, service, action, resource_type, resource_id, status_code,"
        " request_id, host(client_ip), details, occurred_at FROM audit_logs ORDER BY id"
    )


def test_one_event_is_stored_with_every_field(audit, database):
    sent = event(resource_id="42", status_code=200, action="item.read")

    response = post_events(audit, sent)

    assert response.status_code == 200
    assert response.get_json() == {"stored": 1, "duplicate": 0}
    [row] = stored_rows(database)
    assert row[:8] == (
        sent["event_id"],
        "items-service",
        "item.read",
        "item",
        "42",
        200,
        "req-1",
        "10.0.0.7",
    )
    assert row[8] == {"name": "Test Item"}
    assert row[9].isoformat() == "2026-11-25T10:00:00.123456+00:00"


def test_a_batch_is_stored_in_one_request(audit, database):
    batch = [event() for _ in range(3)]

    response = post_events(audit, batch)

    assert response.get_json() == {"stored": 3, "duplicate": 0}
    assert [row[0] for row in stored_rows(database)] == [e["event_id"] for e in batch]


def test_the_same_event_posted_twice_is_stored_once(audit, database):
    sent = event()

    first = post_events(audit, sent)
    second = post_events(audit, sent)

    assert first.get_json() == {"stored": 1, "duplicate": 0}
    assert second.status_code == 200
    assert second.get_json() == {"stored": 0, "duplicate": 1}
    assert len(stored_rows(database)) == 1


def test_a_redelivered_batch_stores_only_the_new_events(audit, database):
    old = [event(), event()]
    post_events(audit, old)

    response = post_events(audit, [*old, event()])

    assert response.get_json() == {"stored": 1, "duplicate": 2}
    assert len(stored_rows(database)) == 3


def test_a_duplicate_inside_one_batch_is_stored_once(audit, database):
    sent = event()

    response = post_events(audit, [sent, sent])

    assert response.get_json() == {"stored": 1, "duplicate": 1}


def test_optional_fields_may_be_omitted(audit, database):
    sent = event()
    for field in ("resource_id", "client_ip", "details"):
        del sent[field]

    assert post_events(audit, sent).get_json() == {"stored": 1, "duplicate": 0}
    [row] = stored_rows(database)
    assert row[4] is None and row[7] is None and row[8] == {}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {AUDIT_TOKEN}"},
        {"Authorization": f"Bearer {AUDIT_TOKEN}x"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer é"},
    ],
)
def test_a_missing_or_wrong_token_is_401(audit, database, headers):
    response = post_events(audit, event(), headers=headers)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert stored_rows(database) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("event_id", "not-a-uuid"),
        ("event_id", "12345678123456781234567812345678"),
        ("event_id", 5),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-11-25T10:00:00"),
        ("occurred_at", "2026-13-25T10:00:00Z"),
        ("service", ""),
        ("service", "s" * 65),
        ("action", "Item.Create"),
        ("action", "create"),
        ("action", None),
        ("resource_type", 7),
        ("resource_id", "r" * 65),
        ("resource_id", 42),
        ("status_code", 99),
        ("status_code", 600),
        ("status_code", "201"),
        ("status_code", True),
        ("status_code", 201.5),
        ("request_id", "x" * 129),
        ("request_id", "nul\u0000"),
        ("client_ip", "999.1.1.1"),
        ("client_ip", "fe80::1%eth0"),
        ("client_ip", 17),
        ("details", []),
        ("details", "text"),
        ("details", {"nul": "\u0000"}),
        ("details", {"big": "x" * 20000}),
        ("details", {"deep": json.loads("[" * 40 + "]" * 40)}),
        ("unexpected", "field"),
    ],
)
def test_an_invalid_event_rejects_the_whole_batch_naming_index_and_field(
    audit, database, field, value
):
    batch = [event(), event(**{field: value}), event()]

    problem = assert_problem(post_events(audit, batch), 400)

    assert problem["errors"] == [
        {"index": 1, "field": field, "message": problem["errors"][0]["message"]}
    ]
    assert stored_rows(database) == []


@pytest.mark.parametrize(
    "field",
    ["event_id", "occurred_at", "service", "action", "resource_type", "status_code", "request_id"],
)
def test_a_missing_required_field_is_400(audit, database, field):
    sent = event()
    del sent[field]

    problem = assert_problem(post_events(audit, [sent]), 400)

    assert error_fields(problem) == [field]


def test_every_invalid_event_is_listed(audit):
    batch = [event(service=""), event(), event(status_code=0)]

    problem = assert_problem(post_events(audit, batch), 400)

    assert [(e["index"], e["field"]) for e in problem["errors"]] == [
        (0, "service"),
        (2, "status_code"),
    ]


def test_an_integral_float_status_code_is_an_integer(audit):
    assert post_events(audit, event(status_code=201.0)).status_code == 200


@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_a_body_that_is_neither_an_event_nor_a_batch_is_400(audit, database, body):
    response = audit.post(
        "/events", data=json.dumps(body), headers={**AUTH, "Content-Type": "application/json"}
    )

    assert_problem(response, 400)


def test_a_batch_over_500_events_is_400(audit, database):
    assert_problem(post_events(audit, [event() for _ in range(501)]), 400)
    assert stored_rows(database) == []


def test_a_batch_of_500_events_is_stored(audit, database):
    assert post_events(audit, [event() for _ in range(500)]).get_json()["stored"] == 500


def test_wrong_content_type_malformed_json_and_oversized_bodies(audit):
    headers = {**AUTH, "Content-Type": "application/json"}

    assert_problem(
        audit.post("/events", data="{}", headers={**AUTH, "Content-Type": "text/plain"}), 415
    )
    assert_problem(audit.post("/events", data="{", headers=headers), 400)
    assert_problem(audit.post("/events", data="x" * (4 * 1024 * 1024 + 1), headers=headers), 413)


def test_wrong_method_is_405(audit):
    assert_problem(audit.get("/events", headers=AUTH), 405)


def test_health_readiness_and_openapi(audit, audit_app):
    assert audit.get("/healthz").get_json() == {"status": "ok"}
    assert audit.get("/readyz").get_json() == {"status": "ready"}
    document = audit.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/events", "/healthz", "/readyz", "/metrics", "/openapi.json"}
