"""A `make up` that changes the items image, while clients keep creating items through
items_url: every items pod is replaced (one more started before one is stopped, each
old one drained by its preStop sleep and graceful stop), and no client notices: every
answer is a 201, none a connection refused or reset or the proxy's 503, each 201 has
exactly one audit row, and the outbox is empty afterwards. The original image is put
back with another `make up` before the test ends."""

import time

from tests.e2e.conftest import build_and_push, settings_changed, wait_until_healthy
from tests.e2e.stack import NAMESPACE
from tests.e2e_pods.load import PostLoad
from tests.e2e_pods.trail import last_audit_row, outbox_rows, wait_for_the_trail

ITEMS = "app.kubernetes.io/name=items-service"


def items_pods(stack) -> dict[str, dict]:
    """{uid: pod} of the items pods that exist, terminating ones included."""
    listed = stack.kubectl_json("get", "pods", "--namespace", NAMESPACE, "-l", ITEMS)["items"]
    return {pod["metadata"]["uid"]: pod for pod in listed}


def deployment_image(stack) -> str:
    return (
        stack.kubectl(
            "get",
            "deployment",
            "items-service",
            "--namespace",
            NAMESPACE,
            "-o",
            "jsonpath={.spec.template.spec.containers[?(@.name=='items-service')].image}",
        )
        .check()
        .stdout
    )


def wait_until_gone(stack, uids: set[str], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while left := uids & set(items_pods(stack)):
        if time.monotonic() > deadline:
            raise AssertionError(f"old items pods still there after {seconds} s: {sorted(left)}")
        time.sleep(1)


def test_a_rolling_update_under_load_drops_no_request_and_audits_each_once(
    deployed, clone, registry, node
):
    items_url = deployed.output("items_url")
    app = clone / "items-service" / "app.py"
    original = app.read_text()
    app.write_text(original + "\n# e2e-pods: rolled under load\n")
    try:
        changed_image = build_and_push(clone, registry, "items-service")
    finally:
        app.write_text(original)
    original_image = deployment_image(deployed)
    old_pods = items_pods(deployed)
    audited_before = last_audit_row(node)
    try:
        with settings_changed(deployed, items_image=changed_image):
            started = time.monotonic()
            with PostLoad(items_url) as load:
                load.wait_for(20)  # the load flows before the update starts
                rollout = deployed.up()
                # Pulumi returns once the new pods are ready; the old ones still drain.
                wait_until_gone(deployed, set(old_pods))
                load.wait_for(20, since=time.monotonic())  # served by the new pods alone
            rolled_seconds = time.monotonic() - started
        rollout.check()
        new_pods = items_pods(deployed)
        outcomes = load.snapshot()
        figures = load.figures()
        accepted = {o.request_id for o in outcomes if o.kind == "201"}
        rows = wait_for_the_trail(node, audited_before, accepted)
        print(
            f"\nrolling update under load: {len(outcomes)} requests in {rolled_seconds:.0f} s,"
            f" by kind {figures}; {sum(rows[r] for r in accepted)} audit rows for"
            f" {len(accepted)} 201s ({sum(rows.values())} rows in all); items pods"
            f" {sorted(p['metadata']['name'] for p in old_pods.values())} ->"
            f" {sorted(p['metadata']['name'] for p in new_pods.values())}"
        )

        assert not set(old_pods) & set(new_pods), "an items pod was not replaced"
        for pod in new_pods.values():
            images = {c["image"] for c in pod["spec"]["containers"] if c["name"] == "items-service"}
            assert images == {changed_image}, (pod["metadata"]["name"], images)
        failures = {kind: n for kind, n in figures.items() if kind != "201"}
        assert not failures, (
            f"answers other than 201 during the rollout: {failures};"
            f" e.g. {[(o.kind, o.detail) for o in outcomes if o.kind != '201'][:5]}"
        )
        assert len(accepted) == len(outcomes), "a 201 without its own X-Request-ID"
        twice = {request_id: n for request_id, n in rows.items() if n != 1}
        assert not twice, f"request ids with other than one audit row: {twice}"
        assert outbox_rows(node) == 0
    finally:
        deployed.up().check()
        wait_until_healthy(deployed)
    assert deployment_image(deployed) == original_image
