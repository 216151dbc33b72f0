"""Faults on real pods while clients keep creating items through items_url: both
audit-service pods deleted at once, then the postgres pod, which the StatefulSet
recreates on the same claim and volume. Nothing accepted is lost or half-done: every
201's item is readable afterwards and has exactly one audit row, delivered once the
audit trail is back; the requests that failed while the database was away got a clear
503 and changed nothing; the outbox drains to empty. The stack heals by itself, so it
is as `make up` left it when the test ends."""

import time
from collections import Counter

import requests

from tests.e2e.conftest import wait_until_healthy
from tests.e2e.stack import NAMESPACE
from tests.e2e_pods.load import PostLoad
from tests.e2e_pods.trail import last_audit_row, last_item, outbox_rows, wait_for_the_trail
from tests.support.services import wait_for

AUDIT = "app.kubernetes.io/name=audit-service"
POSTGRES_POD = "postgres-0"
# What a client may get while the database is away: the application's 503 (the database
# is unavailable) or the proxy's (gunicorn did not answer in time); both are problem
# documents with Retry-After, and neither carried the request out.
CLEAR_FAILURES = {"app-503", "proxy-503"}


def pods(stack, selector: str) -> list[dict]:
    return stack.kubectl_json("get", "pods", "--namespace", NAMESPACE, "-l", selector)["items"]


def ready(pod: dict) -> bool:
    conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    return conditions.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp")


def postgres_pod(stack) -> dict:
    return stack.kubectl_json(
        "get", "pod", POSTGRES_POD, "--namespace", NAMESPACE, "--ignore-not-found"
    )


def claim_and_volume(stack) -> tuple[str, str, str]:
    """(claim uid, volume name, volume uid) of the postgres pod's data."""
    pod = postgres_pod(stack)
    [claim_name] = [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod["spec"]["volumes"]
        if "persistentVolumeClaim" in volume
    ]
    claim = stack.kubectl_json("get", "pvc", claim_name, "--namespace", NAMESPACE)
    volume = stack.kubectl_json("get", "pv", claim["spec"]["volumeName"])
    return claim["metadata"]["uid"], volume["metadata"]["name"], volume["metadata"]["uid"]


def items_after(items_url: str, after: int) -> dict[str, int]:
    """{name: id} of the items with an id above `after`, read page by page as a client
    reads them (GET /items?after=)."""
    found = {}
    while True:
        page = requests.get(f"{items_url}/items", params={"after": after, "limit": 500}, timeout=10)
        assert page.status_code == 200, page.text
        entries = page.json()
        found.update({entry["name"]: entry["id"] for entry in entries})
        if "next" not in page.links:
            return found
        after = entries[-1]["id"]


def test_audit_and_database_pods_deleted_under_load_lose_no_item_and_no_audit_row(deployed, node):
    items_url = deployed.output("items_url")
    claim_before = claim_and_volume(deployed)
    postgres_uid = postgres_pod(deployed)["metadata"]["uid"]
    audit_replicas = deployed.kubectl_json(
        "get", "deployment", "audit-service", "--namespace", NAMESPACE
    )["spec"]["replicas"]
    audited_before = last_audit_row(node)
    item_before = last_item(node)
    started = time.monotonic()

    with PostLoad(items_url, max_seconds=480) as load:
        load.wait_for(20)
        old_audit = {pod["metadata"]["uid"] for pod in pods(deployed, AUDIT)}
        deployed.kubectl(
            "delete", "pod", "--namespace", NAMESPACE, "-l", AUDIT, "--wait=false"
        ).check()
        wait_for(
            lambda: (
                (current := pods(deployed, AUDIT))
                and not old_audit & {pod["metadata"]["uid"] for pod in current}
                and sum(map(ready, current)) == audit_replicas
            ),
            timeout=180,
            interval=1,
            message="new audit-service pods ready, the old ones gone",
        )
        audit_back = time.monotonic()
        load.wait_for(20, since=audit_back)

        database_away = time.monotonic()
        deployed.kubectl(
            "delete", "pod", POSTGRES_POD, "--namespace", NAMESPACE, "--wait=false"
        ).check()
        wait_for(
            lambda: (
                (pod := postgres_pod(deployed))
                and pod["metadata"]["uid"] != postgres_uid
                and ready(pod)
            ),
            timeout=180,
            interval=1,
            message="postgres-0 recreated and ready",
        )
        database_back = time.monotonic()
        load.wait_for(20, since=database_back)
    wait_until_healthy(deployed, 180)

    outcomes = load.snapshot()
    figures = load.figures()
    accepted = {o.request_id: o for o in outcomes if o.kind == "201"}
    turned_away = [o for o in outcomes if o.kind in CLEAR_FAILURES]
    rows = wait_for_the_trail(node, audited_before, set(accepted))
    created = items_after(items_url, item_before)
    create_rows = Counter(
        resource_id
        for (resource_id,) in node.psql(
            "SELECT resource_id FROM audit_logs WHERE id > :'after' AND action = 'item.create'",
            after=str(audited_before),
        )
    )
    print(
        f"\nfaults under load: {len(outcomes)} requests in {time.monotonic() - started:.0f} s,"
        f" by kind {figures}; audit-service away"
        f" {audit_back - started:.0f} s after the start, back after"
        f" {database_away - audit_back:.0f} s; postgres away for"
        f" {database_back - database_away:.0f} s; {len(created)} items created,"
        f" {sum(create_rows.values())} create rows, {sum(rows[r] for r in accepted)} audit rows"
        f" for {len(accepted)} 201s"
    )

    for kind in sorted(set(figures) - {"201"}):
        offsets = [o.started - database_away for o in outcomes if o.kind == kind]
        print(
            f"  {kind}: {len(offsets)}, sent from {min(offsets):+.1f} s to {max(offsets):+.1f} s"
            " after the postgres pod's deletion"
        )

    assert claim_and_volume(deployed) == claim_before, "the database moved to another volume"
    # audit-service away: items requests are served as usual (DESIGN §3).
    before_database = Counter(o.kind for o in outcomes if o.finished < database_away)
    assert set(before_database) == {"201"}, before_database
    lost = {o.name for o in accepted.values()} - set(created)
    assert not lost, f"{len(lost)} items answered 201 and not found afterwards: {sorted(lost)[:5]}"
    for outcome in accepted.values():
        assert created[outcome.name] == outcome.item_id, outcome
    assert not {o.name for o in turned_away} & set(created), "a 503 created its item"
    assert not {o.request_id for o in turned_away} & set(rows), "a 503 was audited"
    twice = {request_id: n for request_id, n in rows.items() if n != 1}
    assert not twice, f"request ids with other than one audit row: {twice}"
    half_done = {name for name, item_id in created.items() if create_rows[str(item_id)] != 1}
    assert not half_done, f"items without exactly one create row: {sorted(half_done)[:5]}"
    assert outbox_rows(node) == 0
    # Last, so that a failure here says that nothing was lost nor half-done.
    unclear = {kind: n for kind, n in figures.items() if kind not in {"201", *CLEAR_FAILURES}}
    assert not unclear, (
        f"answers that were neither a 201 nor a clear 503 (DESIGN §2): {unclear};"
        f" e.g. {[(o.kind, o.detail) for o in outcomes if o.kind in unclear][:5]}"
    )
