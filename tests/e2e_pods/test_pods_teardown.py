"""`make down` on a real node leaves nothing of the stack behind: no pod, claim,
volume or namespace in the cluster, no volume directory on the node, and no container
of the stack in the node's runtime."""

import time

from tests.e2e.stack import NAMESPACE


def stack_volumes(stack) -> list[str]:
    volumes = stack.kubectl_json("get", "persistentvolumes")["items"]
    return [
        volume["metadata"]["name"]
        for volume in volumes
        if (volume["spec"].get("claimRef") or {}).get("namespace") == NAMESPACE
    ]


def test_make_down_leaves_no_pod_claim_volume_directory_namespace_or_container(stack, node):
    assert node.stack_containers(), "the stack ran no container on the node to begin with"
    assert node.volume_directories(), "the stack's claim had no directory on the node"
    stack.down().check()
    assert not stack.namespace_exists()
    # Reclaiming a volume is asynchronous (local-path-provisioner runs a helper pod that
    # removes the directory, then deletes the volume), and so is the kubelet's removal of
    # the pods' containers: wait for all of it, within two minutes.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (
        stack_volumes(stack) or node.volume_directories() or node.stack_containers()
    ):
        time.sleep(2)
    assert stack_volumes(stack) == []
    assert node.volume_directories() == []
    assert node.stack_containers() == []
