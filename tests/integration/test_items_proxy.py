"""items-service behind its pod's proxy (items-proxy/nginx.conf, Debian's
nginx): requests pass through unchanged, the audit trail records the client's
own address and the proxy's request id, every answer of the public port is a
problem document, never an HTML page, and no client can make the proxy use
more memory or disk than its container has. Slow clients:
tests/reliability/test_slow_clients.py."""

import json
import time
import uuid

import pytest
import requests

from infra.front_proxy import MEMORY_LIMIT_MIB
from tests.fuzz.raw_http import RawResponse, request, send
from tests.support.items_proxy import ItemsProxy, memory_bytes, temporary_file_bytes
from tests.support.services import items_service_behind_proxy, wait_for
from tests.support.slow_clients import SlowReaders, StalledUploads


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
    created = requests.post(f"{proxy.url}/items", json={"name": "proxied"})

    assert created.status_code == 201
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
        [b"Content-Type: application/json", b"X-Forwarded-For: 6.6.6.6"],
        b'{"name": "where from"}',
    )

    response = send(proxy.port, raw, source="127.0.0.5")

    assert response.status == 201
    recorded = "SELECT host(client_ip) FROM audit_logs WHERE request_id = %s"
    assert wait_for(
        lambda: database.query(recorded, (response.headers["x-request-id"],)), message="the event"
    ) == [("127.0.0.5",)]


def access_line(proxy: ItemsProxy, marker: str) -> dict:
    """The proxy's access line of the one request whose request line holds marker."""
    [record] = wait_for(
        lambda: [r for r in access_records(proxy) if marker in r["request"]],
        message="the request's access line",
    )
    return record


def service_access_lines(items, request_id: str) -> list[dict]:
    lines = [json.loads(line) for line in items.logs().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("request_id") == request_id]


def test_the_audit_trail_records_the_proxys_request_id_never_the_clients(proxy, items, database):
    marker = uuid.uuid4().hex
    forged = f"forged-{marker}"

    response = requests.post(
        f"{proxy.url}/items?marker={marker}",
        json={"name": "whose id"},
        headers={"X-Request-ID": forged},
        timeout=10,
    )

    assert response.status_code == 201
    request_id = response.headers["X-Request-ID"]
    recorded = wait_for(
        lambda: database.query(
            "SELECT action FROM audit_logs WHERE request_id = %s", (request_id,)
        ),
        message="the event, under the id the client was told",
    )
    assert recorded == [("item.create",)]
    assert request_id != forged
    assert database.query("SELECT 1 FROM audit_logs WHERE request_id = %s", (forged,)) == []
    logged = access_line(proxy, marker)
    assert logged["request_id"] == request_id
    assert logged["untrusted_client_request_id"] == forged
    [served] = wait_for(
        lambda: service_access_lines(items, request_id),
        message="items-service's access line",
    )
    assert served["untrusted_client_request_id"] == forged


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
    "TRACE": (request(b"TRACE", b"/items"), 405),
    "CONNECT": (request(b"CONNECT", b"/items/1"), 405),
    "TRACE of a path that does not exist": (request(b"TRACE", b"/nowhere"), 404),
    "metrics": (request(b"GET", b"/metrics"), 404),
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


# Methods nginx refuses itself, before any location: it names the methods the
# path serves, as items-service does for one it refuses (BREW).
@pytest.mark.parametrize("path", ["/items", "/items/1", "/healthz", "/openapi.json"])
@pytest.mark.parametrize("method", [b"TRACE", b"CONNECT"])
def test_a_method_nginx_refuses_is_answered_as_items_service_answers_one(proxy, method, path):
    refused_by_nginx = send(proxy.port, request(method, path.encode()))
    refused_by_service = send(proxy.port, request(b"BREW", path.encode()))

    assert refused_by_service.status == 405, "items-service's own answer"
    assert refused_by_nginx.status == 405
    assert refused_by_nginx.headers["content-type"] == "application/problem+json"

    def allowed(response: RawResponse) -> set[str]:
        return {method.strip() for method in response.headers["allow"].split(",")}

    assert allowed(refused_by_nginx) == allowed(refused_by_service)
    assert (
        json.loads(refused_by_nginx.body)["title"] == json.loads(refused_by_service.body)["title"]
    )


def access_records(proxy: ItemsProxy, status: int | None = None) -> list[dict]:
    """The proxy's access lines, for this status if given (its error log, plain
    text, aside)."""
    records = [json.loads(line) for line in proxy.logs().splitlines() if line.startswith("{")]
    return [record for record in records if status is None or record["status"] == status]


def test_the_proxy_logs_every_request_as_json_with_its_request_id(proxy):
    marker = uuid.uuid4().hex
    missing = requests.get(f"{proxy.url}/items/no-such-item?marker={marker}", timeout=10)
    too_large = f"/items?marker={marker}".encode()
    send(proxy.port, request(b"POST", too_large, [b"User-Agent: marked"], b"x" * 70_000))

    def marked(status: int) -> list[dict]:
        return [r for r in access_records(proxy, status) if marker in r["request"]]

    [record] = wait_for(lambda: marked(413), message="the refusal's access line")
    assert record["logger"] == "nginx.access" and record["service"] == "items-proxy"
    assert record["request"] == f"POST /items?marker={marker} HTTP/1.1"
    assert record["user_agent"] == "marked"
    assert record["upstream_status"] == "", "answered by nginx alone"
    assert len(record["request_id"]) == 32
    [passed_on] = wait_for(lambda: marked(404), message="the passed-on request's access line")
    assert passed_on["upstream_status"] == "404"
    assert passed_on["request_id"] == missing.headers["X-Request-ID"]


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


BURST_CAP = 1000


def test_a_burst_from_one_client_gets_429s_while_another_client_is_served(proxy):
    healthz = request(b"GET", b"/healthz")
    answers = []
    while len(answers) < BURST_CAP and 429 not in answers:
        answers.append(send(proxy.port, healthz, source="127.0.0.2").status)
    refused = send(proxy.port, healthz, source="127.0.0.2")
    other = send(proxy.port, healthz, source="127.0.0.3")

    assert 429 in answers, f"no 429 in {len(answers)} requests"
    assert answers.count(200) >= 100, "a burst of 100 is allowed"
    assert refused.status == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert json.loads(refused.body)["status"] == 429
    assert other.status == 200


REQUESTS_IN_PROGRESS_PER_CLIENT = 64


def test_a_client_may_have_only_so_many_requests_in_progress(proxy):
    listing = request(b"GET", b"/items?limit=1")
    with StalledUploads(proxy.port, REQUESTS_IN_PROGRESS_PER_CLIENT, ["127.0.0.6"]):
        refused = wait_for(
            lambda: (
                (answer := send(proxy.port, listing, source="127.0.0.6")).status == 429 and answer
            ),
            message="a request beyond the client's 64 to be refused",
        )
        other = send(proxy.port, listing, source="127.0.0.7")

    assert refused.headers["content-type"] == "application/problem+json"
    assert other.status == 200
    # nginx ends the stalled requests as it sees their connections close.
    wait_for(
        lambda: send(proxy.port, listing, source="127.0.0.6").status == 200,
        message="the client to be served again once its requests have ended",
    )


# Spread over 20 addresses, so that the per-client bound (64) does not refuse them.
STALLED_UPLOADS = 1000
UPLOAD_SOURCES = [f"127.0.2.{host}" for host in range(1, 21)]


def test_many_stalled_uploads_leave_the_proxy_alive_and_within_its_memory_limit(proxy):
    with StalledUploads(proxy.port, STALLED_UPLOADS, UPLOAD_SOURCES):
        # nginx takes the connections and reads their bodies as its worker gets
        # to them: the most it holds, over 5 s (its body timeout is 10 s).
        peak = 0
        for _ in range(20):
            peak = max(peak, memory_bytes(proxy))
            time.sleep(0.25)

    assert peak < MEMORY_LIMIT_MIB * 2**20, f"{peak / 2**20:.1f} MiB"
    assert proxy.process.poll() is None
    assert requests.get(f"{proxy.url}/healthz", timeout=10).status_code == 200


SLOW_READERS = 4


def test_slow_readers_of_the_longest_list_put_nothing_on_disk_and_hold_no_gunicorn_thread(
    proxy, items, database
):
    """The longest answer there is: 500 items, each with the longest name and
    description, in 4-byte characters (about 4 MiB)."""
    [(last_id,)] = database.query("SELECT coalesce(max(id), 0) FROM items")
    database.query(
        "INSERT INTO items (name, description)"
        " SELECT repeat(%s, 200), repeat(%s, 2000) FROM generate_series(1, 500) RETURNING id",
        ("\N{GRINNING FACE}", "\N{GRINNING FACE}"),
    )
    target = f"/items?after={last_id}&limit=500"

    def answered_by_gunicorn() -> int:
        return sum(
            1
            for line in items.logs().splitlines()
            if f'"query": "after={last_id}&limit=500"' in line and '"status": 200' in line
        )

    with SlowReaders(proxy.port, target, SLOW_READERS):
        wait_for(
            lambda: answered_by_gunicorn() == SLOW_READERS,
            message="gunicorn to have written every answer",
        )
        on_disk = temporary_file_bytes(proxy)

    assert on_disk == 0
