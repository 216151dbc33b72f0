"""Hostile input over real HTTP, through gunicorn: every attempt is answered
with a 4xx problem (RFC 9457), nothing unvalidated is stored, and the audit
trail of the attempts holds only safe values.

Some attempts never reach Flask: gunicorn refuses malformed requests itself,
and those answers must be problems too (service_common/protocol_errors.py).
"""

import json
import re
import uuid

import pytest
import requests

from tests.fuzz.raw_http import request, send
from tests.support.assertions import assert_problem
from tests.support.services import AUDIT_TOKEN, wait_for

SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


def nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


HOSTILE_BODIES = {
    "name over 200 characters": (b'{"name": "' + b"n" * 201 + b'"}', 400),
    "name of 60 000 characters": (b'{"name": "' + b"n" * 60_000 + b'"}', 400),
    "description over 2000 characters": (
        b'{"name": "a", "description": "' + b"d" * 2001 + b'"}',
        400,
    ),
    "body over 64 KiB": (b'{"name": "' + b"n" * 70_000 + b'"}', 413),
    "non-UTF-8 bytes": (b'{"name": "\xff\xfe\xc3"}', 400),
    "UTF-16 body": ('{"name": "x"}'.encode("utf-16"), 400),
    "overlong UTF-8 encoding of a quote": (b'{"name": "\xc0\xa2"}', 400),
    "array nested 30 000 deep": (nested(30_000), 400),
    "object nested 5000 deep": (b'{"name": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, 400),
    "number beyond float range": (b'{"name": 1e999999}', 400),
    "integer of 5000 digits": (b'{"name": "a", "description": ' + b"9" * 5000 + b"}", 400),
    "NaN": (b'{"name": NaN}', 400),
    "NUL character": (b'{"name": "a\\u0000b"}', 400),
    "lone surrogate": (b'{"name": "\\ud800"}', 400),
    "duplicate keys": (b'{"name": "a", "name": "b"}', 400),
    "client-chosen id": (b'{"name": "a", "id": 1}', 400),
    "operator object instead of a string": (b'{"name": {"$ne": ""}}', 400),
    "name as a list": (b'{"name": ["a"]}', 400),
    "whitespace-only name": (b'{"name": " \\t\\n\\u3000"}', 400),
    "truncated JSON": (b'{"name": "a"', 400),
    "JSON then trailing garbage": (b'{"name": "a"}; DROP TABLE items', 400),
}


@pytest.mark.parametrize("body, status", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_hostile_bodies_are_refused_with_problems(items, database, body, status):
    before = database.count("items")
    created = requests.post(
        f"{items.url}/items", data=body, timeout=10, headers={"Content-Type": "application/json"}
    )
    assert_problem(created, status)
    existing = requests.post(f"{items.url}/items", json={"name": "target"}, timeout=10).json()
    replaced = requests.put(
        f"{items.url}/items/{existing['id']}",
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(replaced, status)
    assert database.count("items") == before + 1, "only the valid target item was stored"
    stored = requests.get(f"{items.url}/items/{existing['id']}", timeout=10).json()
    assert stored["name"] == "target"


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json-patch+json",
        "multipart/form-data",
    ],
)
def test_bodies_that_are_not_json_are_refused(items, database, content_type):
    before = database.count("items")
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(
        f"{items.url}/items", data=b'{"name": "a"}', headers=headers, timeout=10
    )
    assert_problem(response, 415)
    assert database.count("items") == before


HOSTILE_IDS = [
    "0",
    "-1",
    "9223372036854775808",
    "1e3",
    "0x10",
    "1.0",
    "%201",
    "1;DROP TABLE items",
    "1'%20OR%20'1'='1",
    "%00",
    "%ff%fe",
    "..%2f..%2fetc%2fpasswd",
    "9" * 3000,
    "١٢",
    "/1",
]


@pytest.mark.parametrize("item_id", HOSTILE_IDS, ids=lambda raw: raw[:24])
def test_hostile_item_ids_are_not_found(items, database, item_id):
    before = database.count("items")
    for method in ("GET", "PUT", "DELETE"):
        response = requests.request(
            method,
            f"{items.url}/items/{item_id}",
            json={"name": "a"},
            timeout=10,
            allow_redirects=False,
        )
        assert_problem(response, 404)
    assert database.count("items") == before


HOSTILE_QUERIES = [
    "limit=0",
    "limit=501",
    "limit=-1",
    "limit=1e2",
    "limit=1%20OR%201=1",
    "limit=" + "9" * 40,
    "limit=%00",
    "limit=",
    "after=-1",
    "after=9223372036854775808",
    "after=0;DELETE%20FROM%20items",
    "after=1.5",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_list_parameters_are_refused(items, query):
    assert_problem(requests.get(f"{items.url}/items?{query}", timeout=10), 400)


def test_sql_metacharacters_in_valid_fields_are_stored_as_text(items, database):
    tables = database.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    fields = {
        "name": "Robert'); DROP TABLE items;--",
        "description": "\\'; SELECT pg_sleep(30); -- $$ $1 %s %(name)s \" ` ;"
        " COMMIT; TRUNCATE audit_outbox",
    }
    created = requests.post(f"{items.url}/items", json=fields, timeout=10)
    assert created.status_code == 201
    read = requests.get(f"{items.url}/items/{created.json()['id']}", timeout=10).json()
    assert {"name": read["name"], "description": read["description"]} == fields
    assert database.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == tables


# Requests a client library refuses to send, written on the socket as they are.
MALFORMED_REQUESTS = {
    "CR inside X-Request-ID": request(b"GET", b"/items", [b"X-Request-ID: a\rSet-Cookie: x=1"]),
    "LF inside X-Request-ID": request(b"GET", b"/items", [b"X-Request-ID: a\nSet-Cookie: x=1"]),
    "NUL inside X-Request-ID": request(b"GET", b"/items", [b"X-Request-ID: a\x00b"]),
    "folded header line": request(b"GET", b"/items", [b"X-Request-ID: a", b" Set-Cookie: x=1"]),
    "space before the colon": request(b"GET", b"/items", [b"X-Request-ID : a"]),
    "header name with a slash": request(b"GET", b"/items", [b"X/Request: a"]),
    "header over 8 KiB": request(b"GET", b"/items", [b"X-Request-ID: " + b"a" * 9000]),
    "request line over 4 KiB": request(b"GET", b"/items/" + b"9" * 5000),
    "raw non-ASCII byte in the path": request(b"GET", b"/items/\xff"),
    "control character in the method": request(b"G\x01T", b"/items"),
    "NUL in the path": request(b"GET", b"/items/1\x00"),
    "content-type with CRLF": request(
        b"POST", b"/items", [b"Content-Type: application/json\rX: y"], b'{"name": "a"}'
    ),
}


@pytest.mark.parametrize("raw", MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys())
def test_malformed_requests_get_problems_from_gunicorn_too(items, database, raw):
    before = database.count("items")
    response = send(items.port, raw)
    assert response.status is not None and 400 <= response.status < 500, response
    assert response.headers["content-type"] == "application/problem+json", response
    problem = json.loads(response.body)
    assert problem["status"] == response.status and problem["detail"]
    assert "set-cookie" not in response.headers
    assert database.count("items") == before


def head_only(path: bytes, *headers: bytes) -> bytes:
    """A POST whose headers are refused before any body is read: none is sent, so
    that the server's close cannot meet unread bytes and reset the connection."""
    lines = [b"POST " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [b"Content-Type: application/json", b"Authorization: Bearer " + AUDIT_TOKEN.encode()]
    return b"\r\n".join([*lines, *headers]) + b"\r\n\r\n"


# Framings that would let a proxy and gunicorn disagree on where a request
# ends (request smuggling): gunicorn refuses them while reading the headers.
INVALID_FRAMING = {
    "two equal Content-Length headers": [b"Content-Length: 13", b"Content-Length: 13"],
    "two different Content-Length headers": [b"Content-Length: 5", b"Content-Length: 20"],
    "negative Content-Length": [b"Content-Length: -1"],
    "signed Content-Length": [b"Content-Length: +13"],
    "Content-Length with Transfer-Encoding": [
        b"Content-Length: 5",
        b"Transfer-Encoding: chunked",
    ],
}


def access_lines(service, query: str) -> list[dict]:
    lines = [json.loads(line) for line in service.logs().splitlines()]
    return [
        line
        for line in lines
        if line.get("logger") == "gunicorn.access" and line.get("query") == query
    ]


@pytest.mark.parametrize("service_name", ["items", "audit"])
@pytest.mark.parametrize("framing", INVALID_FRAMING.values(), ids=INVALID_FRAMING.keys())
def test_invalid_framing_gets_a_problem_and_one_access_line(
    request, database, service_name, framing
):
    """Refused before the application sees it: no item, and no audit event
    either (the audit rule covers what the application answers)."""
    service = request.getfixturevalue(service_name)
    path = b"/items" if service_name == "items" else b"/events"
    marker = uuid.uuid4().hex
    query = f"framing={marker}"
    before = database.count("items")

    response = send(
        service.port,
        head_only(path + b"?" + query.encode(), b"X-Request-ID: " + marker.encode(), *framing),
    )

    assert response.status == 400, response
    assert response.headers["content-type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["status"] == 400 and problem["title"] == "Bad Request" and problem["detail"]
    [line] = wait_for(lambda: access_lines(service, query), message="the access-log line")
    assert (line["method"], line["path"], line["status"]) == ("POST", path.decode(), 400)
    assert database.count("items") == before
    assert audited(database, marker) == []


def chunked(path: bytes, body: bytes, request_id: str) -> bytes:
    """A POST with a chunked body, given as it goes on the wire."""
    head = [
        b"POST " + path + b" HTTP/1.1",
        b"Host: 127.0.0.1",
        b"Connection: close",
        b"Content-Type: application/json",
        b"Transfer-Encoding: chunked",
        b"Authorization: Bearer " + AUDIT_TOKEN.encode(),
        b"X-Request-ID: " + request_id.encode(),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def one_chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n"


MALFORMED_CHUNKS = {
    "chunk size not hexadecimal": b'zz\r\n{"name": "a"}\r\n0\r\n\r\n',
    "negative chunk size": b'-1\r\n{"name": "a"}\r\n0\r\n\r\n',
    "chunk data without its CRLF": b'5\r\n{"nameXX\r\n0\r\n\r\n',
}


def audited(database, request_id: str) -> list[tuple]:
    wait_for(lambda: database.count("audit_outbox") == 0, message="the outbox to drain")
    return database.query(
        "SELECT action, status_code FROM audit_logs WHERE request_id = %s", (request_id,)
    )


@pytest.mark.parametrize("body", MALFORMED_CHUNKS.values(), ids=MALFORMED_CHUNKS.keys())
def test_a_malformed_chunked_body_is_a_400_audited_like_any_bad_request(items, database, body):
    request_id = f"bad-chunks-{uuid.uuid4().hex}"
    before = database.count("items")

    response = send(items.port, chunked(b"/items", body, request_id))

    assert response.status == 400, response
    assert json.loads(response.body)["detail"].startswith("The request body is not validly chunked")
    assert database.count("items") == before
    assert audited(database, request_id) == [("item.create", 400)]


@pytest.mark.parametrize("body", MALFORMED_CHUNKS.values(), ids=MALFORMED_CHUNKS.keys())
def test_a_malformed_chunked_batch_is_a_400(audit, database, body):
    before = database.count("audit_logs")

    response = send(audit.port, chunked(b"/events", body, "bad-chunks"))

    assert response.status == 400, response
    assert json.loads(response.body)["detail"].startswith("The request body is not validly chunked")
    assert database.count("audit_logs") == before


def test_a_chunked_body_over_64_kib_is_a_413_not_cut_short(items, database):
    """Werkzeug stops reading a chunked body at the limit: what came before the
    cut, a valid object, must not be taken for the whole body."""
    request_id = f"long-chunks-{uuid.uuid4().hex}"
    before = database.count("items")
    body = b'{"name": "cut here"}' + b" " * 70_000

    response = send(items.port, chunked(b"/items", one_chunk(body), request_id))

    assert response.status == 413, response
    assert response.headers["content-type"] == "application/problem+json"
    assert database.count("items") == before
    assert audited(database, request_id) == [("item.create", 413)]


def test_a_chunked_batch_over_4_mib_is_a_413(audit, database):
    # Its own service name: other tests' events may still be arriving in the shared database.
    body = json.dumps(event(service="chunked-over-limit")).encode() + b" " * (4 * 1024 * 1024)

    response = send(audit.port, chunked(b"/events", one_chunk(body), "long-chunks"))

    assert response.status == 413, response
    assert database.query(
        "SELECT count(*) FROM audit_logs WHERE service = 'chunked-over-limit'"
    ) == [(0,)]


@pytest.mark.parametrize("size", [64 * 1024, 64 * 1024 - 1])
def test_a_chunked_body_up_to_64_kib_is_read_whole(items, size):
    body = b'{"name": "chunked"}'
    body += b" " * (size - len(body))

    response = send(items.port, chunked(b"/items", one_chunk(body), "whole-chunks"))

    assert response.status == 201, response
    assert json.loads(response.body)["name"] == "chunked"


UNSAFE_REQUEST_IDS = [
    "é\u2028x".encode(),
    b"\xff\xfe",
    b"a b",
    b"x" * 129,
    b"<script>alert(1)</script>",
    b"id\t1",
    b"%0d%0aSet-Cookie:%20a=b",
    b"${jndi:ldap://x}",
    b"'; DROP TABLE audit_logs;--",
]


@pytest.mark.parametrize(
    "request_id", UNSAFE_REQUEST_IDS, ids=lambda raw: raw[:16].decode("latin-1")
)
def test_unsafe_request_ids_are_replaced_not_echoed(items, request_id):
    response = send(
        items.port, request(b"GET", b"/items?limit=1", [b"X-Request-ID: " + request_id])
    )
    assert response.status == 200
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["x-request-id"]), response.headers
    assert "set-cookie" not in response.headers


def test_spoofed_client_address_and_host_are_not_trusted(items, database):
    response = send(
        items.port,
        request(
            b"POST",
            b"/items",
            [
                b"X-Forwarded-For: 6.6.6.6",
                b"X-Real-IP: 6.6.6.6",
                b"Forwarded: for=6.6.6.6;host=evil.example",
                b"X-Forwarded-Host: evil.example",
                b"Content-Type: application/json",
                b"X-Request-ID: spoofed-origin",
            ],
            b'{"name": "spoof"}',
            host=b"evil.example",
        ),
    )
    assert response.status == 201
    assert response.headers["location"].startswith("/items/"), "a path, never another host"
    wait_for(
        lambda: database.query(
            "SELECT host(client_ip) FROM audit_logs WHERE request_id = 'spoofed-origin'"
        ),
        message="the audit event",
    )
    assert database.query(
        "SELECT host(client_ip) FROM audit_logs WHERE request_id = 'spoofed-origin'"
    ) == [("127.0.0.1",)]


AUDIT_ATTACKS = {
    "no token": ({}, b"[]", 401),
    "token in the wrong scheme": ({"Authorization": f"Basic {AUDIT_TOKEN}"}, b"{}", 401),
    "token prefix only": ({"Authorization": f"Bearer {AUDIT_TOKEN[:-1]}"}, b"{}", 401),
    "token with a suffix": ({"Authorization": f"Bearer {AUDIT_TOKEN}x"}, b"{}", 401),
}


@pytest.mark.parametrize("headers, body, status", AUDIT_ATTACKS.values(), ids=AUDIT_ATTACKS.keys())
def test_audit_service_refuses_unauthenticated_writes(audit, headers, body, status):
    response = requests.post(
        f"{audit.url}/events",
        data=body,
        timeout=10,
        headers={"Content-Type": "application/json", **headers},
    )
    assert_problem(response, status)


def event(**fields) -> dict:
    return {
        "event_id": "0b6f0f53-8c5a-4c4e-9a54-1f3b8f2d9e01",
        "occurred_at": "2026-11-25T10:00:00Z",
        "service": "attacker",
        "action": "item.create",
        "resource_type": "item",
        "status_code": 201,
        "request_id": "r",
        **fields,
    }


def deep_details(depth: int) -> dict:
    details: dict = {}
    for _ in range(depth):
        details = {"a": details}
    return details


HOSTILE_EVENTS = {
    "batch over 500": ([event()] * 501, 400),
    "body over 4 MiB": ([event(details={"x": "y" * (4 * 1024 * 1024)})], 413),
    "details nested 40 deep": (event(details=deep_details(40)), 400),
    "NUL in details": (event(details={"a\u0000": 1}), 400),
    "SQL in the event id": (event(event_id="1'); DELETE FROM audit_logs;--"), 400),
    "client_ip with a zone index": (event(client_ip="fe80::1%eth0"), 400),
    "status code beyond smallint": (event(status_code=70000), 400),
    "request id over 128": (event(request_id="r" * 129), 400),
}


@pytest.mark.parametrize("body, status", HOSTILE_EVENTS.values(), ids=HOSTILE_EVENTS.keys())
def test_audit_service_refuses_hostile_events(audit, database, body, status):
    response = requests.post(
        f"{audit.url}/events",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {AUDIT_TOKEN}"},
    )
    assert_problem(response, status)
    assert database.query("SELECT count(*) FROM audit_logs WHERE service = 'attacker'") == [(0,)]


def test_what_hostile_requests_leave_behind_is_clean(items, database):
    """Sends attempts of its own, then checks every row stored (by this test or
    any other): names and descriptions within their limits, and audit rows
    that hold only safe request ids and canonical item ids."""
    marker = f"aftermath-{uuid.uuid4().hex}"
    sent = 0
    for body, _ in HOSTILE_BODIES.values():
        requests.post(
            f"{items.url}/items",
            data=body,
            timeout=10,
            headers={"Content-Type": "application/json", "X-Request-ID": f"{marker}-{sent}"},
        )
        sent += 1
    for item_id in HOSTILE_IDS:
        requests.get(
            f"{items.url}/items/{item_id}", timeout=10, headers={"X-Request-ID": f"{marker}-{sent}"}
        )
        sent += 1
    for request_id in UNSAFE_REQUEST_IDS:
        send(items.port, request(b"GET", b"/items?limit=1", [b"X-Request-ID: " + request_id]))

    for name, description in database.query("SELECT name, description FROM items"):
        assert 1 <= len(name) <= 200 and name == name.strip()
        assert len(description) <= 2000
    wait_for(lambda: database.count("audit_outbox") == 0, timeout=60, message="the outbox to drain")
    rows = database.query("SELECT request_id, resource_id, service, details FROM audit_logs")
    assert sum(request_id.startswith(marker) for request_id, *_ in rows) == sent
    for request_id, resource_id, service, details in rows:
        assert service == "items-service"
        assert SAFE_REQUEST_ID.fullmatch(request_id), request_id
        assert resource_id is None or CANONICAL_ID.fullmatch(resource_id), resource_id
        requested = details.get("requested_id", "")
        assert len(requested) <= 64 and requested.isprintable(), requested
