"""The runs after the first: a code change touches its own Deployment only; a new
migration runs a new Job and removes the old one without touching the services;
a new password reaches the role step and rolls the pods that use it."""

import json

from tests.e2e.conftest import build_and_push
from tests.e2e.stack import NAMESPACE, SCHEMA_JOBS

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


def jobs(stack) -> list[str]:
    """The schema Jobs (the retention CronJob's hourly Jobs are not counted)."""
    result = stack.kubectl(
        "get",
        "jobs",
        "-n",
        NAMESPACE,
        "-l",
        SCHEMA_JOBS,
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ).check()
    return result.stdout.split()


def template_annotations(stack, deployment: str) -> dict:
    result = stack.kubectl("get", "deployment", deployment, "-n", NAMESPACE, "-o", "json").check()
    return json.loads(result.stdout)["spec"]["template"]["metadata"].get("annotations", {})


def test_a_one_line_code_change_updates_only_its_own_deployment(deployed, clone, registry):
    app = clone / "items-service" / "app.py"
    original = app.read_text()
    app.write_text(original + "\n# a one-line change\n")
    try:
        reference = build_and_push(clone, registry, "items-service")
    finally:
        app.write_text(original)
    previous = deployed.pulumi("config", "get", "items_image").check().stdout.strip()
    deployed.pulumi("config", "set", "items_image", reference).check()

    steps = deployed.preview_steps()

    assert changed(steps) == {f"{DEPLOYMENT}::items-service": "update"}
    deployed.up().check()
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
    assert reference != previous


def test_a_new_migration_runs_a_new_job_and_leaves_the_services_alone(deployed, clone):
    before = jobs(deployed)
    migration = clone / "database" / "0099_e2e_colour.sql"
    migration.write_text("ALTER TABLE items ADD COLUMN IF NOT EXISTS colour text;\n")
    steps = changed(deployed.preview_steps())
    replaced_or_created = {name for name, operation in steps.items() if JOB in name}
    assert replaced_or_created, steps
    assert not [name for name in steps if DEPLOYMENT in name or "StatefulSet" in name], steps

    deployed.up().check()

    after = jobs(deployed)
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


def test_a_new_password_reaches_the_roles_and_rolls_the_pods_that_use_it(deployed):
    [password] = [
        resource["urn"]
        for resource in deployed.state_resources()
        if resource["urn"].endswith("::items-service-db-password")
    ]
    jobs_before = jobs(deployed)
    items_before = template_annotations(deployed, "items-service")
    audit_before = template_annotations(deployed, "audit-service")

    deployed.pulumi("up", "--yes", "--skip-preview", "--replace", password).check()

    assert jobs(deployed) != jobs_before, "a new role step ran"
    checksum = "items-audit/secret-checksum"
    assert template_annotations(deployed, "items-service")[checksum] != items_before[checksum]
    assert template_annotations(deployed, "audit-service")[checksum] == audit_before[checksum]
