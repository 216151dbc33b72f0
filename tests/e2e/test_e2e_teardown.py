"""`make down` on a cluster of the user's own: every object of the stack is gone from
the API, whoever made it (the namespace and everything in it, labelled or not, and
the volumes of its claims), and the stack's state holds nothing. Runs last
(MODULE_ORDER): it leaves no deployment behind."""

import time

from tests.e2e.stack import NAMESPACE


def volumes_of_the_namespace(stack) -> list[str]:
    return [
        item["metadata"]["name"]
        for item in stack.stack_cluster_objects()
        if item["kind"] == "PersistentVolume"
    ]


def test_make_down_removes_every_object_and_empties_the_state(deployed):
    volumes = volumes_of_the_namespace(deployed)
    assert volumes, "the database's claim has a volume"
    assert deployed.namespace_objects()

    down = deployed.down()

    assert down.returncode == 0, down.output
    assert not deployed.namespace_exists()
    assert deployed.namespace_objects() == []
    assert deployed.state_resources() == []
    # A released volume is deleted by the cluster after the claim is (its reclaim
    # policy): not by the time `make down` returns, but soon after.
    deadline = time.monotonic() + 60
    while volumes_of_the_namespace(deployed) and time.monotonic() < deadline:
        time.sleep(1)
    assert volumes_of_the_namespace(deployed) == []
    labelled = deployed.kubectl(
        "get",
        "namespaces,persistentvolumes,clusterroles,clusterrolebindings,storageclasses",
        "--selector=app.kubernetes.io/part-of=items-audit",
        "-o",
        "name",
    ).check()
    assert labelled.stdout == ""
    # The cluster is the user's: make down leaves it.
    assert deployed.kubectl("get", "--raw", "/readyz").returncode == 0
    assert NAMESPACE not in deployed.kubectl("get", "namespaces", "-o", "name").check().stdout
