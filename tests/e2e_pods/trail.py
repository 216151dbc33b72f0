"""The audit trail as an operator reads it (psql in the postgres pod): the rows stored
after a point, per request id, and the outbox that feeds them."""

import time
from collections import Counter

from tests.e2e_pods.node import Node


def last_audit_row(node: Node) -> int:
    return int(node.psql("SELECT coalesce(max(id), 0) FROM audit_logs")[0][0])


def last_item(node: Node) -> int:
    return int(node.psql("SELECT coalesce(max(id), 0) FROM items")[0][0])


def rows_per_request(node: Node, after: int) -> Counter:
    """{request_id: rows} of the audit rows stored after row `after`."""
    rows = node.psql(
        "SELECT request_id, count(*) FROM audit_logs WHERE id > :'after' GROUP BY 1",
        after=str(after),
    )
    return Counter({request_id: int(count) for request_id, count in rows})


def outbox_rows(node: Node) -> int:
    """Every row of the outbox: waiting, or kept as rejected."""
    return int(node.psql("SELECT count(*) FROM audit_outbox")[0][0])


def wait_for_the_trail(
    node: Node, after: int, request_ids: set[str], seconds: float = 120
) -> Counter:
    """Until the outbox is empty and every one of `request_ids` has a row (the relay
    delivers asynchronously, with a back-off of up to 10 s after a failure); the rows
    per request id then. Fails naming what is missing when `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        waiting = outbox_rows(node)
        rows = rows_per_request(node, after)
        missing = request_ids - set(rows)
        if not waiting and not missing:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {seconds} s: {waiting} outbox rows, {len(missing)} of"
                f" {len(request_ids)} accepted requests without an audit row"
                f" (e.g. {sorted(missing)[:5]})"
            )
        time.sleep(1)
