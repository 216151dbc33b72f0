"""audit-service's POST /events (DESIGN §3): authenticated, validated, idempotent."""

import json
import threading
import uuid

import pytest
import requests
from prometheus_client import REGISTRY
from psycopg2 import sql

from audit_service.validation import EventRow, event_row
from tests.support.assertions import assert_problem, error_fields
from tests.support.services import AUDIT_TOKEN, wait_for

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


def test_a_duplicate_inside_one_batch_is_stored_once(audit):
    sent = event()

    response = post_events(audit, [sent, sent])

    assert response.get_json() == {"stored": 1, "duplicate": 1}


CONFLICT = "is already stored with other content: an event id names one event only"


def processed(result: str) -> float:
    """audit_events_processed_total{result=...} of this process (no gunicorn here)."""
    return REGISTRY.get_sample_value("audit_events_processed_total", {"result": result}) or 0.0


@pytest.mark.parametrize(
    "change",
    [
        {"status_code": 500},
        {"details": {"name": "Other Item"}},
        {"resource_id": "43"},
        {"client_ip": "10.0.0.8"},
        {"occurred_at": "2026-11-25T10:00:00.123457Z"},
        {"request_id": "req-2"},
    ],
)
def test_an_event_id_reused_with_other_content_is_a_conflict(audit, database, caplog, change):
    original = event()
    post_events(audit, original)
    conflicts_before = processed("conflict")

    response = post_events(audit, [event(), {**original, **change}])

    problem = assert_problem(response, 409)
    assert problem["errors"] == [{"index": 1, "field": "event_id", "message": CONFLICT}]
    assert problem["detail"] == (
        "1 event(s) reuse an event id stored with other content; nothing was stored."
        " First: event 1."
    )
    assert [row[0] for row in stored_rows(database)] == [original["event_id"]], (
        "nothing of the request is stored, and the stored event is unchanged"
    )
    assert stored_rows(database)[0][6] == "req-1"
    assert processed("conflict") - conflicts_before == 1
    assert f"event {original['event_id']} (index 1) conflicts" in caplog.text


def test_a_conflict_inside_one_batch_names_the_later_event(audit, database):
    first = event()

    response = post_events(audit, [first, event(), {**first, "status_code": 404}])

    problem = assert_problem(response, 409)
    assert problem["errors"] == [{"index": 2, "field": "event_id", "message": CONFLICT}]
    assert stored_rows(database) == []


@pytest.mark.parametrize(
    "original, redelivered",
    [
        ({}, {"event_id": "upper"}),
        ({"client_ip": "::ffff:1.2.3.4"}, {"client_ip": "::ffff:102:304"}),
        ({"occurred_at": "2026-11-25T10:00:00Z"}, {"occurred_at": "2026-11-25T12:00:00+02:00"}),
        ({"details": {"a": 1, "b": [1.5e300, "x"]}}, {"details": {"b": [1.5e300, "x"], "a": 1}}),
        ({"details": {"n": 1.7976931348623157e308}}, {"details": {"n": 1.7976931348623157e308}}),
    ],
    ids=["event id case", "address spelling", "time zone", "key order", "largest float"],
)
def test_a_redelivery_written_differently_is_still_a_duplicate(audit, original, redelivered):
    sent = event(**original)
    again = {**sent, **redelivered}
    if redelivered.get("event_id") == "upper":
        again["event_id"] = sent["event_id"].upper()
    post_events(audit, sent)

    response = post_events(audit, again)

    assert response.get_json() == {"stored": 0, "duplicate": 1}


def test_a_conflict_with_an_event_another_request_is_storing_is_found(audit_server, database):
    """The insert waits for the other request's uncommitted row; once that
    commits, this request's event is compared with it, not stored beside it."""
    original = event()
    row = event_row(original)
    other_request = database.connect()
    other_request.autocommit = False
    try:
        with other_request.cursor() as cursor:
            cursor.execute(
                sql.SQL("INSERT INTO audit_logs ({}) VALUES ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, EventRow._fields)),
                    sql.SQL(", ").join(sql.Placeholder() * len(EventRow._fields)),
                ),
                row._replace(details=json.dumps(row.details)),
            )
        answers = []
        sender = threading.Thread(
            target=lambda: answers.append(
                requests.post(
                    f"{audit_server}/events",
                    json={**original, "status_code": 500},
                    headers=AUTH,
                    timeout=10,
                )
            )
        )
        sender.start()
        wait_for(
            lambda: database.query(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'audit-service' AND wait_event_type = 'Lock'"
            )[0][0],
            message="the request's insert to wait for the uncommitted row",
        )
        other_request.commit()
        sender.join(10)
    finally:
        other_request.close()

    problem = assert_problem(answers[0], 409)
    assert problem["errors"] == [{"index": 0, "field": "event_id", "message": CONFLICT}]
    assert [stored[5] for stored in stored_rows(database)] == [201]


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


UUID = "must be a UUID"
RFC3339 = "must be an RFC 3339 date-time with a time zone, years 0001-9999 in UTC"
NON_EMPTY = "must be a non-empty string"
ACTION = "must look like 'resource.verb' in lowercase, e.g. item.create"
STATUS = "must be an integer from 100 to 599"
ADDRESS = "must be an IPv4 or IPv6 address, or null"
NO_NUL = "must not contain NUL characters or unpaired surrogates"
OBJECT = "must be a JSON object"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("event_id", "not-a-uuid", UUID),
        ("event_id", "12345678123456781234567812345678", UUID),
        ("event_id", 5, UUID),
        ("occurred_at", "yesterday", RFC3339),
        ("occurred_at", "2026-11-25T10:00:00", RFC3339),
        ("occurred_at", "2026-13-25T10:00:00Z", RFC3339),
        ("service", "", NON_EMPTY),
        ("service", "s" * 65, "must be at most 64 characters long"),
        ("action", "Item.Create", ACTION),
        ("action", "create", ACTION),
        ("action", None, NON_EMPTY),
        ("resource_type", 7, NON_EMPTY),
        ("resource_id", "r" * 65, "must be at most 64 characters long"),
        ("resource_id", 42, "must be a non-empty string or null"),
        ("status_code", 99, STATUS),
        ("status_code", 600, STATUS),
        ("status_code", "201", STATUS),
        ("status_code", True, STATUS),
        ("status_code", 201.5, STATUS),
        ("request_id", "x" * 129, "must be at most 128 characters long"),
        ("request_id", "nul\u0000", NO_NUL),
        ("client_ip", "999.1.1.1", ADDRESS),
        ("client_ip", "fe80::1%eth0", ADDRESS),
        ("client_ip", 17, ADDRESS),
        ("details", [], OBJECT),
        ("details", "text", OBJECT),
        ("details", {"nul": "\u0000"}, NO_NUL),
        ("details", {"big": "x" * 20000}, "must be at most 16384 characters as JSON"),
        (
            "details",
            {"deep": json.loads("[" * 40 + "]" * 40)},
            "must not be nested more than 16 levels deep",
        ),
        ("unexpected", "field", "is not a known field"),
    ],
)
def test_an_invalid_event_rejects_the_whole_batch_naming_index_and_field(
    audit, database, field, value, message
):
    batch = [event(), event(**{field: value}), event()]

    problem = assert_problem(post_events(audit, batch), 400)

    assert problem["errors"] == [{"index": 1, "field": field, "message": message}]
    assert problem["detail"] == (
        f"1 invalid event(s); nothing was stored. First: event 1, field {field}: {message}."
    )
    assert stored_rows(database) == []


@pytest.mark.parametrize(
    "field",
    ["event_id", "occurred_at", "service", "action", "resource_type", "status_code", "request_id"],
)
def test_a_missing_required_field_is_400(audit, field):
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
def test_a_body_that_is_neither_an_event_nor_a_batch_is_400(audit, body):
    response = audit.post(
        "/events", data=json.dumps(body), headers={**AUTH, "Content-Type": "application/json"}
    )

    assert_problem(response, 400)


def test_a_batch_over_500_events_is_400(audit, database):
    assert_problem(post_events(audit, [event() for _ in range(501)]), 400)
    assert stored_rows(database) == []


def test_a_batch_of_500_events_is_stored(audit):
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


def test_health_readiness_and_openapi(audit):
    assert audit.get("/healthz").get_json() == {"status": "ok"}
    assert audit.get("/readyz").get_json() == {"status": "ready"}
    document = audit.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/events", "/healthz", "/readyz", "/openapi.json"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"400", "414", "431"} <= set(operation["responses"]), (method, path)
