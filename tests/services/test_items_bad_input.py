"""Bad input to items-service always gets a 4xx problem, never a 500 or an HTML page (DESIGN §2)."""

import json

import pytest

from tests.support.assertions import assert_problem, error_fields


def post_raw(items, data, content_type="application/json"):
    return items.post("/items", data=data, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, ["name"]),
        ({"description": "no name"}, ["name"]),
        ({"name": ""}, ["name"]),
        ({"name": "   \t\n"}, ["name"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": 123}, ["name"]),
        ({"name": None}, ["name"]),
        ({"name": True}, ["name"]),
        ({"name": ["a"]}, ["name"]),
        ({"name": {"a": 1}}, ["name"]),
        ({"name": "nul\u0000inside"}, ["name"]),
        ({"name": "ok", "description": "x" * 2001}, ["description"]),
        ({"name": "ok", "description": None}, ["description"]),
        ({"name": "ok", "description": 5}, ["description"]),
        ({"name": "ok", "description": "nul\u0000"}, ["description"]),
        ({"name": "ok", "id": 7}, ["id"]),
        ({"name": "ok", "created_at": "2020-01-01T00:00:00Z"}, ["created_at"]),
        ({"name": 1, "description": 2, "extra": 3}, ["extra", "name", "description"]),
    ],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_invalid_item_fields_are_400_naming_each_field(items, method, body, fields):
    target = "/items"
    if method == "put":
        target = f"/items/{items.post('/items', json={'name': 'existing'}).get_json()['id']}"

    problem = assert_problem(getattr(items, method)(target, json=body), 400)

    assert sorted(error_fields(problem)) == sorted(fields)
    assert items.get("/items").get_json() == (
        [] if method == "post" else [items.get(target).get_json()]
    )


def test_limits_are_inclusive(items):
    response = items.post("/items", json={"name": "x" * 200, "description": "y" * 2000})

    assert response.status_code == 201


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"{'name': 'single quotes'}", id="not JSON"),
        pytest.param(b'{"name": NaN}', id="NaN"),
        pytest.param(b'{"name": Infinity}', id="Infinity"),
        pytest.param(b'{"name": "a", "name": "b"}', id="duplicate key"),
        pytest.param(b'{"name": "\xff\xfe"}', id="not UTF-8"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="deeply nested"),
        pytest.param(b'{"name": "a", "description": ' + b"9" * 10000 + b"}", id="huge number"),
        pytest.param(b'{"name": "\\ud800"}', id="lone surrogate"),
    ],
)
def test_malformed_bodies_are_400(items, data):
    assert_problem(post_raw(items, data), 400)


@pytest.mark.parametrize("body", ["[]", '[{"name": "x"}]', '"name"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_400(items, body):
    assert_problem(post_raw(items, body), 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_a_body_that_is_not_json_is_415(items, content_type):
    response = items.post(
        "/items", data=json.dumps({"name": "x"}), content_type=content_type or None
    )

    assert_problem(response, 415)


def test_json_with_a_charset_parameter_is_accepted(items):
    response = post_raw(items, json.dumps({"name": "x"}), "application/json; charset=utf-8")

    assert response.status_code == 201


def test_a_body_over_64_kib_is_413(items):
    body = json.dumps({"name": "x", "description": "y" * (64 * 1024)})

    assert_problem(post_raw(items, body), 413)
    assert items.get("/items").get_json() == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("after=-1", "after"),
        ("after=x", "after"),
        ("after=9223372036854775808", "after"),
    ],
)
def test_invalid_paging_parameters_are_400(items, query, field):
    problem = assert_problem(items.get(f"/items?{query}"), 400)

    assert error_fields(problem) == [field]


@pytest.mark.parametrize(
    "method, path",
    [
        ("PATCH", "/items/1"),
        ("POST", "/items/1"),
        ("PUT", "/items"),
        ("DELETE", "/items"),
        ("PATCH", "/items"),
        ("POST", "/healthz"),
    ],
)
def test_a_wrong_method_is_405_with_allow(items, method, path):
    response = items.open(path, method=method, json={"name": "x"})

    assert_problem(response, 405)
    assert response.headers["Allow"]


@pytest.mark.parametrize("path", ["/", "/item", "/items/1/extra", "/admin", "/items/1%2F2"])
def test_an_unknown_path_is_a_404_problem(items, path):
    assert_problem(items.get(path), 404)


def test_sql_metacharacters_are_stored_verbatim(items):
    name = "Robert'); DROP TABLE items;--"

    item = items.post("/items", json={"name": name, "description": '"; SELECT 1; --'}).get_json()

    assert items.get(f"/items/{item['id']}").get_json()["name"] == name
