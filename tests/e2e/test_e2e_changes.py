"""The runs after the first: a code change rolls its own Deployment and nothing else;
a new migration runs a new Job and removes the old one without touching the
services; a new password reaches the roles' Secret, the Job that sets it runs after
that, and only the pods that use it roll. Each leaves the stack as `make up` left it
(with the new image, migration or password: the clone keeps them)."""

import base64
import json
from datetime import datetime

from tests.e2e.conftest import build_and_push
from tests.e2e.objects import uids_and_generations
from tests.e2e.stack import NAMESPACE

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"


def changed(steps: list[dict]) -> dict[str, str]:
    """{"type::name": operation} for every step that does something (the type is the
    resource's own, without its parents')."""
    found = {}
    for step in steps:
        if step["op"] in ("same", "read"):
            continue
        *_, types, name = step["urn"].split("::")
        found[f"{types.split('$')[-1]}::{name}"] = step["op"]
    return found


def template_annotations(stack, deployment: str) -> dict:
    result = stack.kubectl("get", "deployment", deployment, "-n", NAMESPACE, "-o", "json").check()
    return json.loads(result.stdout)["spec"]["template"]["metadata"].get("annotations", {})


def secret_values(stack, name: str) -> dict[str, str]:
    data = stack.kubectl_json("get", "secret", name, "-n", NAMESPACE)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def not_rolled(objects: dict, service: str) -> dict:
    """The objects but what a rollout of `service` replaces or changes: its pods and
    ReplicaSets, and its Service's endpoints (they list the pods)."""
    return {
        key: value
        for key, value in objects.items()
        if key[0] not in ("Pod", "ReplicaSet")
        and not (key[0] in ("Endpoints", "EndpointSlice") and key[2].startswith(service))
    }


def test_a_one_line_code_change_updates_only_its_own_deployment(deployed, clone, registry):
    app = clone / "items-service" / "app.py"
    original = app.read_text()
    app.write_text(original + "\n# a one-line change\n")
    try:
        reference = build_and_push(clone, registry, "items-service")
    finally:
        app.write_text(original)
    before = uids_and_generations(deployed.everything())
    deployed.pulumi("config", "set", "items_image", reference).check()

    assert changed(deployed.preview_steps()) == {f"{DEPLOYMENT}::items-service": "update"}
    deployed.up().check()

    after = uids_and_generations(deployed.everything())
    items = ("Deployment", NAMESPACE, "items-service")
    assert after[items][0] == before[items][0] and after[items][1] > before[items][1]
    del before[items], after[items]
    assert not_rolled(after, "items-service") == not_rolled(before, "items-service")
    image = deployed.kubectl(
        "get",
        "deployment",
        "items-service",
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ).check()
    assert image.stdout == reference


def test_a_new_migration_runs_a_new_job_and_leaves_the_services_alone(deployed, clone):
    before = deployed.schema_jobs()
    workloads = {
        key: value
        for key, value in uids_and_generations(deployed.everything()).items()
        if key[0] in ("Deployment", "StatefulSet", "Pod")
    }
    migration = clone / "database" / "0099_e2e_colour.sql"
    migration.write_text("ALTER TABLE items ADD COLUMN IF NOT EXISTS colour text;\n")
    steps = changed(deployed.preview_steps())
    assert {name for name in steps if JOB in name}, steps
    assert not [name for name in steps if DEPLOYMENT in name or "StatefulSet" in name], steps

    deployed.up().check()

    after = deployed.schema_jobs()
    assert len(after) == 1 and after != before, (before, after)
    status = deployed.kubectl(
        "get", "job", after[0], "-n", NAMESPACE, "-o", "jsonpath={.status.succeeded}"
    ).check()
    assert status.stdout == "1"
    assert (
        "0099_e2e_colour.sql"
        in deployed.kubectl("get", "configmap", after[0], "-n", NAMESPACE, "-o", "jsonpath={.data}")
        .check()
        .stdout
    )
    now = {
        key: value
        for key, value in uids_and_generations(deployed.everything()).items()
        if key[0] in ("Deployment", "StatefulSet", "Pod") and "postgres-schema" not in key[2]
    }
    assert now == {
        key: value for key, value in workloads.items() if "postgres-schema" not in key[2]
    }


def test_a_new_password_reaches_the_roles_and_rolls_the_pods_that_use_it(deployed):
    [password] = [
        resource["urn"]
        for resource in deployed.state_resources()
        if resource["urn"].endswith("::items-service-db-password")
    ]
    jobs_before = deployed.schema_jobs()
    roles_before = secret_values(deployed, "database-roles")
    roles_uid = deployed.kubectl_json("get", "secret", "database-roles", "-n", NAMESPACE)[
        "metadata"
    ]["uid"]
    items_before = template_annotations(deployed, "items-service")
    audit_before = template_annotations(deployed, "audit-service")
    audit_secret_before = secret_values(deployed, "audit-service")

    deployed.pulumi("up", "--yes", "--skip-preview", "--replace", password).check()

    roles = secret_values(deployed, "database-roles")
    assert roles["items-password"] != roles_before["items-password"]
    assert roles["audit-password"] == roles_before["audit-password"]
    assert (
        f":{roles['items-password']}@" in secret_values(deployed, "items-service")["database-url"]
    )
    assert secret_values(deployed, "audit-service") == audit_secret_before
    # The Job that sets the roles' passwords from that Secret ran after it changed.
    [job] = set(deployed.schema_jobs()) - set(jobs_before)
    roles_secret = deployed.kubectl_json(
        "get", "secret", "database-roles", "-n", NAMESPACE, "--show-managed-fields"
    )
    assert roles_secret["metadata"]["uid"] == roles_uid, "updated in place, never missing"
    secret_changed = max(
        timestamp(entry["time"]) for entry in roles_secret["metadata"]["managedFields"]
    )
    run = deployed.kubectl_json("get", "job", job, "-n", NAMESPACE)
    assert run["status"].get("succeeded") == 1, run["status"]
    assert timestamp(run["status"]["startTime"]) >= secret_changed
    volumes = run["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "database-roles"}.items() <= next(
        volume["secret"] for volume in volumes if volume["name"] == "roles-secret"
    ).items()
    checksum = "items-audit/secret-checksum"
    assert template_annotations(deployed, "items-service")[checksum] != items_before[checksum]
    assert template_annotations(deployed, "audit-service")[checksum] == audit_before[checksum]
