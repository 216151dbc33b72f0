"""What goes wrong and how the next `make up` recovers: a migration Job that
failed is replaced and runs again; a settings change that would delete the
database is refused; the policy pack refuses a pod that breaks the baseline."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.e2e.conftest import settings_changed, wait_until_healthy
from tests.e2e.stack import CACHE, NAMESPACE, SCHEMA_JOBS

KWOK_PIDS = CACHE / "e2e-cluster" / "kwok" / "clusters" / "items-audit-e2e" / "pids"


def kwok_controller() -> int:
    """The simulated node's controller: while it is stopped, no pod runs or ends."""
    [pid_file] = [path for path in KWOK_PIDS.glob("*.pid") if "kwok-controller" in path.name]
    return int(pid_file.read_text().strip())


def failing_pods_of_the_new_job(stack, previous_jobs: set[str], deadline: float) -> None:
    """Plays a database that refuses the Job: every pod of the new Job fails,
    until the Job gives up (its backoffLimit)."""
    while time.monotonic() < deadline:
        listed = stack.kubectl(
            "get",
            "pods",
            "-n",
            NAMESPACE,
            "-l",
            SCHEMA_JOBS,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.metadata.labels.job-name}"
            " {.status.phase}{'\\n'}{end}",
        ).check()
        for line in listed.stdout.splitlines():
            pod, job, phase = (line.split() + ["", "", ""])[:3]
            if job and job not in previous_jobs and phase in ("Pending", "Running", ""):
                stack.kubectl(
                    "patch",
                    "pod",
                    pod,
                    "-n",
                    NAMESPACE,
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    '{"status":{"phase":"Failed","reason":"DatabaseUnreachable"}}',
                )
        failed = stack.kubectl(
            "get",
            "jobs",
            "-n",
            NAMESPACE,
            "-l",
            SCHEMA_JOBS,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.failed}{'\\n'}{end}",
        ).check()
        for line in failed.stdout.splitlines():
            job, _, count = line.partition("=")
            if job not in previous_jobs and count and int(count) >= 5:
                return
        time.sleep(1)
    raise AssertionError("the new Job did not fail")


def test_a_failed_migration_job_is_replaced_and_run_again_by_the_next_make_up(deployed, clone):
    """The simulated node's controller is stopped while the Job runs (so that only this
    test decides how its pods end), and started again before the test ends; the node
    stays Ready meanwhile (e2e/cluster-up's grace period), and the cluster is healthy
    again at the end."""
    previous = set(deployed.schema_jobs())
    migration = clone / "database" / "0100_e2e_retried.sql"
    migration.write_text("CREATE INDEX IF NOT EXISTS items_name_idx ON items (name);\n")
    controller = kwok_controller()
    os.kill(controller, signal.SIGSTOP)
    try:
        process = deployed.run_in_background("scripts/up")
        failing_pods_of_the_new_job(deployed, previous, time.monotonic() + 240)
        # The node and the services stay Ready (the new Job's pods fail on purpose, and
        # no pod starts while the controller is stopped).
        assert [text for text in deployed.health() if not text.startswith("pod ")] == []
    finally:
        os.kill(controller, signal.SIGCONT)
    first = process.wait_for_result(timeout=600)
    assert first.returncode != 0, "the update waited on a Job that failed"
    assert "postgres-schema" in first.output

    # Nothing changed since: only the failed Job makes the next update do anything.
    second = deployed.up()

    assert second.returncode == 0, second.output
    [job] = set(deployed.schema_jobs())
    assert job not in previous
    succeeded = deployed.kubectl(
        "get", "job", job, "-n", NAMESPACE, "-o", "jsonpath={.status.succeeded}"
    ).check()
    assert succeeded.stdout == "1"
    wait_until_healthy(deployed)
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output


def statefulset_and_claim_uids(stack) -> tuple[str, str]:
    statefulset = stack.kubectl_json("get", "statefulset", "postgres", "-n", NAMESPACE)
    claim = stack.kubectl_json("get", "persistentvolumeclaim", "data-postgres-0", "-n", NAMESPACE)
    return statefulset["metadata"]["uid"], claim["metadata"]["uid"]


def test_a_storage_change_that_would_delete_the_database_is_refused(deployed):
    before = statefulset_and_claim_uids(deployed)
    [urn] = [
        resource["urn"]
        for resource in deployed.state_resources()
        if resource["type"] == "kubernetes:apps/v1:StatefulSet"
    ]
    with settings_changed(deployed, postgres_storage="2Gi"):
        refused = deployed.up()

    assert refused.returncode != 0
    # The engine's own refusal of a protected resource (not a provider error).
    assert re.search(
        rf'error: unable to replace resource "{re.escape(urn)}"\s+'
        r"as it is currently marked for protection\.",
        refused.output,
    ), refused.output
    assert statefulset_and_claim_uids(deployed) == before, "the database is the same"
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output


@pytest.fixture(scope="module")
def policy_pack(clone):
    venv = clone / "policy" / ".venv-policy"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", "-r", "requirements.txt"],
            cwd=clone / "policy",
            check=True,
            timeout=600,
        )
    return clone / "policy"


def test_the_policy_pack_passes_the_stack_and_refuses_a_pod_that_breaks_the_baseline(
    deployed, clone, policy_pack
):
    passing = deployed.pulumi("preview", "--policy-pack", policy_pack)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    pods = clone / "infra" / "pods.py"
    original = pods.read_text()
    pods.write_text(
        original.replace("read_only_root_filesystem=True", "read_only_root_filesystem=False")
    )
    try:
        refused = deployed.pulumi("preview", "--policy-pack", policy_pack)
    finally:
        pods.write_text(original)
    output = refused.stdout + refused.stderr
    # What the engine printed about the pack, for the run's report (pytest -rP).
    print("\n".join(line for line in output.splitlines() if "olic" in line or "mandatory" in line))
    assert refused.returncode != 0
    assert "containers-read-only-root-filesystem" in output
    assert "mandatory" in output.lower()
