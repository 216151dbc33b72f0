"""The assignment's flow over real HTTP, both services under gunicorn with several workers."""

import json

import requests

from tests.support.assertions import assert_problem
from tests.support.services import wait_for


def audit_rows(database, since_id: int = 0) -> list[tuple]:
    return database.query(
        "SELECT action, resource_id, status_code, request_id FROM audit_logs WHERE id > %s"
        " ORDER BY occurred_at, id",
        (since_id,),
    )


def last_audit_id(database) -> int:
    return database.query("SELECT coalesce(max(id), 0) FROM audit_logs")[0][0]


def test_create_list_read_update_delete_then_the_audit_trail(items, database):
    start = last_audit_id(database)
    session = requests.Session()
    headers = {"X-Request-ID": "e2e-flow"}

    created = session.post(
        f"{items.url}/items", json={"name": "Test Item", "description": "Testing"}, headers=headers
    )
    assert created.status_code == 201
    item = created.json()
    listed = session.get(f"{items.url}/items", headers=headers)
    assert item in listed.json()
    read = session.get(f"{items.url}{created.headers['Location']}", headers=headers)
    assert read.json() == item
    updated = session.put(
        f"{items.url}/items/{item['id']}", json={"name": "Renamed"}, headers=headers
    )
    assert updated.json()["name"] == "Renamed"
    deleted = session.delete(f"{items.url}/items/{item['id']}", headers=headers)
    assert deleted.status_code == 204
    assert_problem(session.get(f"{items.url}/items/{item['id']}", headers=headers), 404)

    item_id = str(item["id"])
    expected = [
        ("item.create", item_id, 201, "e2e-flow"),
        ("item.list", None, 200, "e2e-flow"),
        ("item.read", item_id, 200, "e2e-flow"),
        ("item.update", item_id, 200, "e2e-flow"),
        ("item.delete", item_id, 204, "e2e-flow"),
        ("item.read", item_id, 404, "e2e-flow"),
    ]

    def all_delivered():
        rows = audit_rows(database, start)
        return rows if len(rows) >= len(expected) else None

    assert wait_for(all_delivered, message="six audit rows") == expected


def test_the_assignment_psql_query_shows_the_latest_audit_logs(items, database):
    requests.post(f"{items.url}/items", json={"name": "From the brief"})

    def latest():
        rows = database.query("SELECT * FROM audit_logs ORDER BY created_at DESC LIMIT 5;")
        return rows if rows and rows[0][3] == "item.create" else None

    assert wait_for(latest, message="the create event")[0][4] == "item"


def test_bad_input_over_http_is_a_problem_not_an_html_page(items):
    for response, status in [
        (
            requests.post(
                f"{items.url}/items", data="{", headers={"Content-Type": "application/json"}
            ),
            400,
        ),
        (
            requests.post(f"{items.url}/items", data="x", headers={"Content-Type": "text/plain"}),
            415,
        ),
        (requests.post(f"{items.url}/items", json={"name": "x", "description": "y" * 70000}), 413),
        (requests.get(f"{items.url}/items/nope"), 404),
        (requests.patch(f"{items.url}/items/1", json={}), 405),
    ]:
        assert_problem(response, status)


def test_each_service_logs_one_json_line_per_request_with_its_request_id(items, audit):
    requests.get(f"{items.url}/items", headers={"X-Request-ID": "log-line-check"})

    def access_line():
        for line in items.logs().splitlines():
            record = json.loads(line)
            if (
                record.get("request_id") == "log-line-check"
                and record["logger"] == "gunicorn.access"
            ):
                return record
        return None

    record = wait_for(access_line, message="the access log line")
    assert record["method"] == "GET" and record["path"] == "/items" and record["status"] == 200
    assert record["service"] == "items-service"
    for line in items.logs().splitlines() + audit.logs().splitlines():
        json.loads(line)
