"""items-service behind its pod's proxy (items-proxy/nginx.conf, Debian's
nginx): requests pass through unchanged, the audit trail records the client's
own address, and every answer nginx gives itself is a problem document, never
an HTML page. Slow clients: tests/reliability/test_slow_clients.py."""

import json
import uuid

import pytest
import requests

from tests.fuzz.raw_http import request, send
from tests.support.items_proxy import ItemsProxy
from tests.support.services import items_service_behind_proxy, wait_for


@pytest.fixture(scope="module")
def items(database, audit):
    service = items_service_behind_proxy(database, audit.url).start()
    yield service
    service.close()


@pytest.fixture(scope="module")
def proxy(items):
    proxy = ItemsProxy(items.port).start()
    yield proxy
    proxy.close()


def test_requests_pass_through_unchanged(proxy):
    created = requests.post(
        f"{proxy.url}/items", json={"name": "proxied"}, headers={"X-Request-ID": "via-proxy"}
    )

    assert created.status_code == 201
    assert created.headers["X-Request-ID"] == "via-proxy"
    item = created.json()
    assert created.headers["Location"] == f"/items/{item['id']}"
    read = requests.get(f"{proxy.url}{created.headers['Location']}")
    assert read.json() == item
    head = requests.head(f"{proxy.url}/items/{item['id']}")
    assert head.status_code == 200 and head.content == b""
    assert requests.delete(f"{proxy.url}/items/{item['id']}").status_code == 204


def test_the_audit_trail_records_the_clients_address_not_the_proxys(proxy, database):
    raw = request(
        b"POST",
        b"/items",
        [
            b"Content-Type: application/json",
            b"X-Request-ID: from-127-0-0-5",
            b"X-Forwarded-For: 6.6.6.6",
        ],
        b'{"name": "where from"}',
    )

    assert send(proxy.port, raw, source="127.0.0.5").status == 201

    recorded = "SELECT host(client_ip) FROM audit_logs WHERE request_id = 'from-127-0-0-5'"
    assert wait_for(lambda: database.query(recorded), message="the event") == [("127.0.0.5",)]


def test_a_chunked_body_is_read_whole_and_passed_on_with_its_length(proxy):
    body = b'{"name": "chunked"}' + b" " * (64 * 1024 - 19)
    raw = (
        b"POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(body)
        + body
        + b"\r\n0\r\n\r\n"
    )

    response = send(proxy.port, raw)

    assert response.status == 201, response
    assert json.loads(response.body)["name"] == "chunked"


# What nginx refuses itself, before items-service sees anything.
REFUSED_BY_PROXY = {
    "request line over 8 KiB": (request(b"GET", b"/items/" + b"9" * 9000), 414),
    "header over 8 KiB": (request(b"GET", b"/items", [b"X-Big: " + b"a" * 9000]), 431),
    "not HTTP": (b"GARBAGE\r\n\r\n", 400),
    "control character in the method": (request(b"G\x01T", b"/items"), 400),
    "negative Content-Length": (
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n",
        400,
    ),
    "Content-Length with Transfer-Encoding": (
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        400,
    ),
    "malformed chunk": (
        b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        400,
    ),
    "unknown transfer coding": (
        b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n",
        501,
    ),
    "HTTP/2.0 request line": (b"GET /items HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "body over 64 KiB": (
        request(b"POST", b"/items", [b"Content-Type: application/json"], b"x" * (64 * 1024 + 1)),
        413,
    ),
    "chunked body over 64 KiB": (
        b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n\r\n"
        + b"%x\r\n" % (64 * 1024 + 1)
        + b"x" * (64 * 1024 + 1)
        + b"\r\n0\r\n\r\n",
        413,
    ),
    "the proxy's own problem pages": (request(b"GET", b"/problems/400"), 404),
}


@pytest.mark.parametrize("raw, status", REFUSED_BY_PROXY.values(), ids=REFUSED_BY_PROXY.keys())
def test_every_answer_of_the_proxy_is_a_problem_document(proxy, raw, status):
    response = send(proxy.port, raw)

    assert response.status == status, response
    assert response.headers["content-type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem["status"] == status and problem["type"] == "about:blank"
    assert problem["title"] and problem["detail"]
    assert b"<html" not in response.body


def access_records(proxy: ItemsProxy, status: int) -> list[dict]:
    """The proxy's access lines for this status (its error log, plain text, aside)."""
    records = [json.loads(line) for line in proxy.logs().splitlines() if line.startswith("{")]
    return [record for record in records if record["status"] == status]


def test_the_proxy_logs_only_what_it_answers_itself_as_json(proxy):
    marker = uuid.uuid4().hex
    requests.get(f"{proxy.url}/items/no-such-item?marker={marker}", timeout=10)
    too_large = f"/items?marker={marker}".encode()
    send(proxy.port, request(b"POST", too_large, [b"User-Agent: marked"], b"x" * 70_000))

    def marked(status: int) -> list[dict]:
        return [r for r in access_records(proxy, status) if marker in r["request"]]

    [record] = wait_for(lambda: marked(413), message="the refusal's access line")
    assert record["logger"] == "nginx.access" and record["service"] == "items-proxy"
    assert record["request"] == f"POST /items?marker={marker} HTTP/1.1"
    assert record["user_agent"] == "marked"
    assert len(record["request_id"]) == 32
    assert marked(404) == [], "items-service logs the requests it answers itself"


def test_the_proxy_has_its_own_liveness_endpoint(proxy):
    response = requests.get(proxy.health_url, timeout=5)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_items_service_unreachable_is_a_503_to_retry(database, audit):
    """gunicorn not (yet) listening behind the proxy: as during a restart."""
    stopped = items_service_behind_proxy(database, audit.url)
    proxy = ItemsProxy(stopped.port).start()
    try:
        response = requests.get(f"{proxy.url}/items", timeout=10)
        logged = wait_for(lambda: access_records(proxy, 503), message="the access line")
    finally:
        proxy.close()
        stopped.close()

    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert response.json()["status"] == 503
    assert [record["request"] for record in logged] == ["GET /items HTTP/1.1"]
