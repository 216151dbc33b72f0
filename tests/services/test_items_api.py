"""items-service routes and their answers (DESIGN §2)."""

import re
from datetime import datetime

import pytest

from tests.support.assertions import assert_problem

RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def create(items, name="Test Item", description=None):
    body = {"name": name} if description is None else {"name": name, "description": description}
    response = items.post("/items", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_create_returns_the_item_with_its_location(items):
    response = items.post("/items", json={"name": "Test Item", "description": "Testing"})

    assert response.status_code == 201
    item = response.get_json()
    assert response.headers["Location"] == f"/items/{item['id']}"
    assert item["name"] == "Test Item" and item["description"] == "Testing"
    assert set(item) == {"id", "name", "description", "created_at", "updated_at"}
    assert RFC3339_UTC.fullmatch(item["created_at"]) and RFC3339_UTC.fullmatch(item["updated_at"])


def test_create_trims_the_name_and_defaults_the_description(items):
    item = create(items, name="  padded  ")

    assert item["name"] == "padded"
    assert item["description"] == ""


def test_created_item_can_be_read_back(items):
    item = create(items, description="first")

    response = items.get(f"/items/{item['id']}")

    assert response.status_code == 200
    assert response.get_json() == item


def test_list_returns_items_in_id_order(items):
    created = [create(items, name=f"item {n}") for n in range(3)]

    response = items.get("/items")

    assert response.status_code == 200
    assert response.get_json() == created
    assert "Link" not in response.headers


def test_list_pages_with_limit_and_after_and_links_the_next_page(items):
    created = [create(items, name=f"item {n}") for n in range(5)]

    first = items.get("/items?limit=2")
    assert [i["id"] for i in first.get_json()] == [c["id"] for c in created[:2]]
    next_url = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers["Link"]).group(1)
    assert next_url == f"/items?limit=2&after={created[1]['id']}"

    second = items.get(next_url)
    assert [i["id"] for i in second.get_json()] == [c["id"] for c in created[2:4]]

    last = items.get(f"/items?limit=2&after={created[3]['id']}")
    assert [i["id"] for i in last.get_json()] == [created[4]["id"]]
    assert "Link" not in last.headers


def add_items(database, count: int) -> list[int]:
    """count items, stored directly: what is tested here is how they are listed."""
    rows = database.query(
        "INSERT INTO items (name) SELECT 'item ' || n FROM generate_series(1, %s) AS n"
        " RETURNING id",
        (count,),
    )
    return sorted(row[0] for row in rows)


def test_a_list_without_limit_returns_100_items_and_links_the_rest(items, database):
    ids = add_items(database, 101)

    first = items.get("/items")

    assert [item["id"] for item in first.get_json()] == ids[:100]
    assert first.headers["Link"] == f'</items?limit=100&after={ids[99]}>; rel="next"'
    rest = items.get(f"/items?limit=100&after={ids[99]}")
    assert [item["id"] for item in rest.get_json()] == ids[100:]
    assert "Link" not in rest.headers


def test_a_list_of_exactly_100_items_has_no_next_page(items, database):
    ids = add_items(database, 100)

    response = items.get("/items")

    assert [item["id"] for item in response.get_json()] == ids
    assert "Link" not in response.headers


def test_list_of_an_empty_table_is_an_empty_array(items):
    response = items.get("/items")

    assert response.status_code == 200
    assert response.get_json() == []


def test_list_accepts_the_limit_bounds(items):
    create(items)

    assert items.get("/items?limit=1").status_code == 200
    assert items.get("/items?limit=500").status_code == 200


def test_put_replaces_name_and_description(items):
    item = create(items, description="old")

    response = items.put(f"/items/{item['id']}", json={"name": "renamed"})

    assert response.status_code == 200
    updated = response.get_json()
    assert updated["name"] == "renamed"
    assert updated["description"] == "", "a full replacement resets an absent description"
    assert updated["created_at"] == item["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(
        item["updated_at"]
    )
    assert items.get(f"/items/{item['id']}").get_json() == updated


def test_delete_removes_the_item(items):
    item = create(items)

    response = items.delete(f"/items/{item['id']}")

    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(items.get(f"/items/{item['id']}"), 404)
    assert_problem(items.delete(f"/items/{item['id']}"), 404)


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_an_absent_item_is_404(items, method):
    kwargs = {"json": {"name": "x"}} if method == "put" else {}

    body = assert_problem(getattr(items, method)("/items/999999", **kwargs), 404)

    assert "999999" in body["detail"]


@pytest.mark.parametrize(
    "item_id",
    ["abc", "0", "-1", "1.5", "1e3", "+1", " 1", "9223372036854775808", "9" * 40, "%00", "١٢"],
)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_an_id_that_cannot_exist_is_404(items, method, item_id):
    kwargs = {"json": {"name": "x"}} if method == "put" else {}

    assert_problem(getattr(items, method)(f"/items/{item_id}", **kwargs), 404)


def test_the_largest_bigint_id_is_a_plain_404(items):
    assert_problem(items.get("/items/9223372036854775807"), 404)


def test_liveness_does_not_need_the_database(items):
    response = items.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readiness_checks_the_database(items):
    response = items.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_every_response_carries_a_request_id(items):
    generated = items.get("/healthz").headers["X-Request-ID"]
    echoed = items.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
    unsafe = items.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert echoed == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe), "ids that could forge log lines are replaced"


def test_openapi_document_describes_every_route(items, items_app):
    document = items.get("/openapi.json").get_json()

    assert document["openapi"].startswith("3.1")
    described = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    served = {
        (rule.rule, method)
        for rule in items_app.url_map.iter_rules()
        for method in rule.methods - {"OPTIONS"}
        if rule.endpoint != "static"
    }
    assert described == served


def test_every_operation_documents_what_gunicorn_answers_before_any_route(items):
    """A request gunicorn cannot parse never reaches a route: 400, 414, 431."""
    document = items.get("/openapi.json").get_json()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert {"400", "414", "431"} <= set(operation["responses"]), (method, path)


def test_the_document_links_create_read_update_and_delete(items):
    paths = items.get("/openapi.json").get_json()["paths"]

    def links(path, method, status):
        return {
            name: (link["operationId"], link["parameters"])
            for name, link in paths[path][method]["responses"][status]["links"].items()
        }

    by_id = {"item_id": "$response.body#/id"}
    assert links("/items", "post", "201") == {
        "getItem": ("getItem", by_id),
        "replaceItem": ("replaceItem", by_id),
        "deleteItem": ("deleteItem", by_id),
    }
    assert links("/items/{item_id}", "get", "200") == {
        "replaceItem": ("replaceItem", by_id),
        "deleteItem": ("deleteItem", by_id),
    }
    assert links("/items/{item_id}", "put", "200") == {
        "getItem": ("getItem", by_id),
        "deleteItem": ("deleteItem", by_id),
    }
