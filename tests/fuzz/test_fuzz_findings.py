"""Inputs the fuzzer found that once broke a service, kept as plain regression tests."""

import uuid
from datetime import UTC, datetime

import requests

from tests.support.assertions import assert_problem
from tests.support.services import AUDIT_TOKEN

AUTHORIZATION = {"Authorization": f"Bearer {AUDIT_TOKEN}"}


def event(occurred_at: str, **fields) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": occurred_at,
        "service": "fuzz",
        "action": "item.read",
        "resource_type": "item",
        "status_code": 200,
        "request_id": "fuzz-finding",
        **fields,
    }


def test_offsets_beyond_postgresqls_range_are_stored_in_utc(audit, database):
    # RFC 3339 allows offsets up to 23:59; PostgreSQL's timestamptz input only
    # up to 15:59, and answered this with a 500.
    sent = event("1167-01-04T17:57:18.8-20:29")
    response = requests.post(f"{audit.url}/events", json=sent, headers=AUTHORIZATION, timeout=10)
    assert response.status_code == 200, response.text
    stored = database.query(
        "SELECT occurred_at FROM audit_logs WHERE event_id = %s", (sent["event_id"],)
    )
    assert stored == [(datetime(1167, 1, 5, 14, 26, 18, 800000, tzinfo=UTC),)]


def test_instants_outside_years_1_to_9999_in_utc_are_refused(audit):
    too_late = event("9999-12-31T23:59:59-23:00")
    response = requests.post(
        f"{audit.url}/events", json=too_late, headers=AUTHORIZATION, timeout=10
    )
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"] == "occurred_at"


def test_nul_characters_in_details_are_refused_as_the_document_says(audit):
    response = requests.post(
        f"{audit.url}/events",
        json=event("2026-11-25T10:00:00Z", details={"key\u0000": 1}),
        headers=AUTHORIZATION,
        timeout=10,
    )
    body = assert_problem(response, 400)
    assert body["errors"][0]["field"] == "details"
    document = requests.get(f"{audit.url}/openapi.json", timeout=10).json()
    details = document["components"]["schemas"]["Event"]["properties"]["details"]
    assert details["propertyNames"] == {"pattern": "^[^\\u0000]*$"}
