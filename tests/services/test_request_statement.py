"""Each request under /items that reads or changes items runs one statement,
which also writes the request's audit event (DESIGN §3): the change and its
event are stored together or not at all, and no reader ever sees one without
the other. The statements are prepared by each database connection."""

import threading

import pytest

from tests.support.assertions import assert_problem
from tests.support.faults import table_locked, writes_refused
from tests.support.services import wait_for


@pytest.fixture
def items_refusing_every_change_of_the_service(database):
    """The items table refuses every change items-service makes: the change
    fails after the request's event was built."""
    with writes_refused(
        database,
        "items",
        "INSERT OR UPDATE OR DELETE",
        when="current_setting('application_name') = 'items-service'",
    ):
        yield


def _existing_item(database) -> int:
    return database.query("INSERT INTO items (name) VALUES ('existing') RETURNING id")[0][0]


@pytest.mark.usefixtures("items_refusing_every_change_of_the_service")
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_change_the_database_refuses_leaves_no_event(items, database, method):
    item_id = _existing_item(database)
    stored_before = database.query("SELECT id, name, updated_at FROM items ORDER BY id")
    path = "/items" if method == "POST" else f"/items/{item_id}"
    body = {"name": "changed"} if method in ("POST", "PUT") else None

    response = items.open(path, method=method, json=body)

    assert_problem(response, 500)
    assert database.query("SELECT id, name, updated_at FROM items ORDER BY id") == stored_before
    assert database.count("audit_outbox") == 0


@pytest.fixture
def outbox_refusing_every_event(database):
    with writes_refused(database, "audit_outbox", "INSERT"):
        yield


@pytest.mark.usefixtures("outbox_refusing_every_event")
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/items/{id}"),
        ("HEAD", "/items/{id}"),
        ("GET", "/items"),
        ("HEAD", "/items"),
        ("GET", "/items/999999"),
    ],
)
def test_a_read_whose_event_cannot_be_written_is_not_answered(items, database, method, path):
    """Reads are audited as changes are: no answer without its event."""
    item_id = _existing_item(database)

    response = items.open(path.format(id=item_id), method=method)

    assert response.status_code == 500


@pytest.fixture
def outbox_held_by_another_transaction(database):
    """Another session holds a lock that makes every insert into the outbox wait."""
    with table_locked(database, "audit_outbox", "SHARE ROW EXCLUSIVE") as holder:
        yield holder


def test_no_reader_sees_an_item_before_its_event(
    items, database, outbox_held_by_another_transaction
):
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(items.post("/items", json={"name": "together"}))
    )
    request.start()
    try:
        wait_for(
            lambda: (
                database.query(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = 'items-service' AND wait_event_type = 'Lock'"
                )[0][0]
                == 1
            ),
            timeout=10,
            message="the request to wait for the outbox",
        )

        assert database.count("items") == 0, "the item is not visible before its event"
    finally:
        outbox_held_by_another_transaction.rollback()
        request.join(timeout=10)

    assert answers[0].status_code == 201
    assert (database.count("items"), database.count("audit_outbox")) == (1, 1)


def _items_service_sessions(database) -> int:
    return database.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'items-service'"
    )[0][0]


def test_statements_are_prepared_again_on_a_new_connection(items, database):
    assert items.post("/items", json={"name": "before"}).status_code == 201
    database.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'items-service'"
    )
    wait_for(
        lambda: _items_service_sessions(database) == 0, timeout=10, message="the sessions to end"
    )

    responses = [items.post("/items", json={"name": f"after {n}"}) for n in range(3)]

    assert [response.status_code for response in responses] == [201, 201, 201]
    assert database.count("audit_outbox") == 4


@pytest.fixture
def items_held_by_another_transaction(database):
    """Another session holds the items table: every statement on it waits until
    its timeout, while the outbox stays free."""
    with table_locked(database, "items", "ACCESS EXCLUSIVE") as holder:
        yield holder


def test_a_503_is_not_audited_even_when_its_event_could_be_stored(
    items, database, items_held_by_another_transaction
):
    """No 5xx is audited (DESIGN §3), not only when the database is down: a
    statement that outlasts its timeout is a 503, and the outbox gets nothing."""
    response = items.get("/items")
    items_held_by_another_transaction.rollback()

    assert_problem(response, 503)
    assert database.count("audit_outbox") == 0
