"""Ctrl-C during `make up` from nothing, once the database's StatefulSet exists, then
`make up` again: it finishes, the state holds no pending operation, the StatefulSet
and its claim are the ones the interrupted run created, and no object the
interrupted run created is left outside the state (a create cut by the
cancellation after the API server made the object: the next `make up` adopts one
of the same name, but an auto-named one would stay, a copy nobody manages). Starts
from nothing itself (`make down` first) and leaves the stack as `make up` leaves
it."""

import time

from tests.e2e.conftest import rendered, wait_until_healthy
from tests.e2e.objects import identity, unexplained
from tests.e2e.stack import NAMESPACE


def uid(stack, kind: str, name: str) -> str | None:
    found = stack.kubectl(
        "get", kind, name, "-n", NAMESPACE, "--ignore-not-found", "-o", "jsonpath={.metadata.uid}"
    ).check()
    return found.stdout.strip() or None


def exact(manifest: dict) -> tuple[str, str, str]:
    metadata = manifest["metadata"]
    return manifest["kind"], metadata.get("namespace", ""), metadata["name"]


def declared(live: list[dict], promised: list[dict]) -> set[tuple[str, str, str]]:
    """The live objects of the kinds and general names the render promises, by exact name
    (an auto-named copy has the same general name)."""
    promised_identities = set(map(identity, promised))
    return {exact(item) for item in live if identity(item) in promised_identities}


def in_state(stack) -> set[tuple[str, str, str]]:
    return {
        exact(resource["outputs"])
        for resource in stack.state_resources()
        if resource["type"].startswith("kubernetes:") and "metadata" in resource.get("outputs", {})
    }


def wait_for(what, seconds: float, running=None):
    deadline = time.monotonic() + seconds
    while (found := what()) is None:
        if running is not None and running.process.poll() is not None:
            raise AssertionError("make up ended first:\n" + running.wait_for_result(10).output)
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.2)
    return found


def test_make_up_interrupted_once_the_database_exists_is_finished_by_the_next_make_up(
    deployed, clone
):
    deployed.down().check()
    assert not deployed.namespace_exists()

    running = deployed.run_in_background("scripts/up")
    statefulset = wait_for(lambda: uid(deployed, "statefulset", "postgres"), 240, running)
    running.interrupt()
    interrupted = running.wait_for_result(timeout=240)
    # What the engine said when it was interrupted, for the run's report (pytest -rP).
    print(interrupted.output[-3000:])
    assert interrupted.returncode != 0, "make up was interrupted before it finished"
    claim = wait_for(lambda: uid(deployed, "persistentvolumeclaim", "data-postgres-0"), 60)

    finished = deployed.up()

    assert finished.returncode == 0, finished.output
    assert not deployed.exported()["deployment"].get("pending_operations")
    assert uid(deployed, "statefulset", "postgres") == statefulset
    assert uid(deployed, "persistentvolumeclaim", "data-postgres-0") == claim
    promised = rendered(clone)
    live = deployed.everything()
    assert set(map(identity, promised)) <= set(map(identity, live))
    assert unexplained(live, promised) == []
    assert declared(live, promised) - in_state(deployed) == set()
    wait_until_healthy(deployed)
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output
