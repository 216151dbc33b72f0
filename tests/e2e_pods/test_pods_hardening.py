"""The pods' hardening is real under a kubelet: every container of the stack runs its
process as the pod's non-root user, with no_new_privs, the runtime's seccomp filter and
no capability, on a root filesystem that refuses writes, as /proc/1/status and a write
inside each container show.

The running pods' containers are read as they run. The Jobs' containers (the schema
migration, the hourly retention) finish in a second, and a finished container has no
process to read: each is started again as a Job of its own, from the CronJob's template
(`kubectl create job --from=cronjob/...`) and from the schema Job's pod template, with
only its command replaced by one that waits until it is stopped. The user, no_new_privs,
seccomp filter, capabilities and read-only root are set by the runtime from the pod's
securityContext before the command starts; the command cannot widen them."""

import contextlib
import json
import re

from tests.e2e.conftest import wait_until_healthy
from tests.e2e.stack import NAMESPACE
from tests.e2e_pods.throwaway import MADE_BY

WRITE_PROBE = "/e2e-pods-write-probe"
# One exec per container: PID 1's status and command line, then a write to the root.
INSPECT = (
    "cat /proc/1/status; echo '--- cmdline'; tr '\\0' ' ' </proc/1/cmdline; echo;"
    f" echo '--- write'; touch {WRITE_PROBE} 2>&1; echo \"exit $?\";"
    f" rm -f {WRITE_PROBE} 2>/dev/null"
)
# A Job's container held until it is stopped (sh is in the postgres image).
HOLD = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
JOB_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid", "job-name")


def inspect(stack, pod: str, container: str, namespace: str = NAMESPACE) -> dict:
    result = stack.kubectl(
        "exec", "--namespace", namespace, pod, "--container", container, "--", "sh", "-c", INSPECT
    ).check()
    status, rest = result.stdout.split("--- cmdline\n", 1)
    command, write = rest.split("--- write\n", 1)
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    return {
        "where": f"{pod}/{container}",
        "command": command.strip()[:60],
        "uids": [int(value) for value in fields["Uid"].split()],
        "gids": [int(value) for value in fields["Gid"].split()],
        "no_new_privs": fields["NoNewPrivs"].strip(),
        "seccomp": fields["Seccomp"].strip(),
        "capabilities": {
            name: int(fields[name], 16)
            for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
        },
        "write": write.strip(),
    }


def expected_user(pod: dict, container: dict) -> int:
    return (container.get("securityContext") or {}).get("runAsUser") or pod["spec"][
        "securityContext"
    ]["runAsUser"]


def held(job: dict, name: str) -> dict:
    """The Job with a name of its own and its container held; the controller's labels and
    selector of the Job it was copied from are dropped (the API server sets new ones)."""
    template = job["spec"]["template"]
    template["metadata"]["labels"] = {
        key: value
        for key, value in (template["metadata"].get("labels") or {}).items()
        if key not in JOB_LABELS and not key.startswith("batch.kubernetes.io/")
    }
    [container] = template["spec"]["containers"]
    container["command"], container["args"] = HOLD, []
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": MADE_BY},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 600,
            "template": template,
        },
    }


@contextlib.contextmanager
def held_jobs(stack, jobs: list[dict]):
    """The Jobs created, each with its pod running; deleted with their pods afterwards."""
    try:
        for job in jobs:
            stack.kubectl("create", "--filename=-", input_text=json.dumps(job)).check()
        pods = []
        for job in jobs:
            selector = f"job-name={job['metadata']['name']}"
            stack.kubectl(
                "wait",
                "--namespace",
                NAMESPACE,
                "--for=condition=Ready",
                "pod",
                "--selector",
                selector,
                "--timeout=90s",
                timeout=120,
            ).check()
            [pod] = stack.kubectl_json(
                "get", "pods", "--namespace", NAMESPACE, "--selector", selector
            )["items"]
            pods.append(pod)
        yield pods
    finally:
        for job in jobs:
            stack.kubectl(
                "delete",
                "job",
                "--namespace",
                NAMESPACE,
                job["metadata"]["name"],
                "--ignore-not-found",
                "--cascade=foreground",
                "--wait",
                "--timeout=90s",
                timeout=120,
            ).check()


def test_every_container_runs_unprivileged_under_seccomp_without_capabilities_on_a_read_only_root(
    deployed, capsys, record_property
):
    stack = deployed
    running = [
        pod
        for pod in stack.kubectl_json("get", "pods", "--namespace", NAMESPACE)["items"]
        if pod["status"].get("phase") == "Running"
    ]
    retention = json.loads(
        stack.kubectl(
            "create",
            "job",
            "--namespace",
            NAMESPACE,
            "e2e-pods-held-retention",
            "--from=cronjob/audit-retention",
            "--dry-run=client",
            "--output=json",
        )
        .check()
        .stdout
    )
    workloads = stack.kubectl_json(
        "get", "deployments,statefulsets,cronjobs", "--namespace", NAMESPACE
    )["items"]
    [schema_job] = stack.schema_jobs()
    schema = stack.kubectl_json("get", "job", "--namespace", NAMESPACE, schema_job)
    templates = [
        (w["spec"].get("jobTemplate") or w)["spec"]["template"] for w in [*workloads, schema]
    ]
    declared = {
        (template["metadata"]["labels"]["app.kubernetes.io/name"], container["name"])
        for template in templates
        for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]
    }
    jobs = [held(retention, "e2e-pods-held-retention"), held(schema, "e2e-pods-held-schema")]

    with held_jobs(stack, jobs) as job_pods:
        seen = []
        for pod in [*running, *job_pods]:
            running_init = {
                status["name"]
                for status in pod["status"].get("initContainerStatuses") or []
                if "running" in status.get("state", {})
            }
            containers = [
                *(c for c in pod["spec"].get("initContainers") or [] if c["name"] in running_init),
                *pod["spec"]["containers"],
            ]
            for container in containers:
                found = inspect(stack, pod["metadata"]["name"], container["name"])
                found["user"] = expected_user(pod, container)
                found["app"] = pod["metadata"]["labels"]["app.kubernetes.io/name"]
                found["container"] = container["name"]
                seen.append(found)

    lines = ["Hardening as each container's PID 1 has it (/proc/1/status) and a write to /:"]
    for found in seen:
        caps = found["capabilities"]
        lines.append(
            f"  {found['where']:<52} uid {found['uids'][0]} gid {found['gids'][0]}"
            f" NoNewPrivs {found['no_new_privs']} Seccomp {found['seccomp']}"
            f" CapEff {caps['CapEff']:x} CapBnd {caps['CapBnd']:x}"
            f" | write: {found['write'].splitlines()[0]} | PID 1: {found['command']}"
        )
    text = "\n".join(lines)
    record_property("hardening", text)
    with capsys.disabled():
        print("\n" + text, flush=True)

    # Every container of every workload of the stack was looked at, in every running pod.
    assert {(found["app"], found["container"]) for found in seen} == declared
    assert len([f for f in seen if f["app"] == "items-service"]) == 2 * len(
        [p for p in running if p["metadata"]["labels"]["app.kubernetes.io/name"] == "items-service"]
    )
    for found in seen:
        where = found["where"]
        assert found["uids"] == [found["user"]] * 4 and found["user"] != 0, (where, found["uids"])
        assert 0 not in found["gids"], (where, found["gids"])
        assert found["no_new_privs"] == "1", where
        assert found["seccomp"] == "2", where  # SECCOMP_MODE_FILTER: RuntimeDefault applied
        assert found["capabilities"] == dict.fromkeys(found["capabilities"], 0), (where, found)
        # The file system refuses the write (EROFS), not merely the user's permissions.
        assert re.search(r"Read-only file system", found["write"]), (where, found["write"])
        assert not found["write"].endswith("exit 0"), (where, found["write"])
    wait_until_healthy(stack)
