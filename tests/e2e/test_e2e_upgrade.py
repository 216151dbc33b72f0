"""An upgrade: the stack deployed by the previous release's `make up` (its own
scripts/up, in a checkout of that commit), then `make up` with this code, in the same
stack with the same settings file (a user's `git pull`). No password is generated
again, and no Secret, StatefulSet or claim is replaced or deleted. Starts from
nothing itself (`make down` and `pulumi stack rm` first) and leaves the stack as
`make up` leaves it."""

import json
import shutil
import subprocess

import pytest

from tests.e2e.objects import uids_and_generations
from tests.e2e.stack import NAMESPACE, REPOSITORY, STACK, write_stack_settings

# The last commit on main before the e2e tier ran the user's path.
PREVIOUS_RELEASE = "f3c8025"
PASSWORD = "random:index/randomPassword:RandomPassword"
KEPT = ("Secret", "StatefulSet", "PersistentVolumeClaim")


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory):
    directory = tmp_path_factory.mktemp("previous-release") / "clone"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(directory), PREVIOUS_RELEASE],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    )
    yield directory
    subprocess.run(
        ["git", "worktree", "remove", "--force", str(directory)],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def deployed_by_the_previous_release(stack, first_up, previous_release, cluster_settings):
    """The stack from nothing at the previous release, as its `make up` made it."""
    stack.down().check()
    stack.run("pulumi", "stack", "rm", "--yes", "--remove-backups", STACK).check()
    write_stack_settings(previous_release, cluster_settings)
    stack.up(previous_release).check()
    # The user's settings file, with the salt the previous release's stack was made with,
    # stays in their clone across the upgrade.
    shutil.copy(previous_release / f"Pulumi.{STACK}.yaml", stack.clone / f"Pulumi.{STACK}.yaml")
    return stack


def passwords(stack) -> dict[str, str]:
    """{urn: password} of the generated passwords, from the state."""
    exported = json.loads(stack.pulumi("stack", "export", "--show-secrets").check().stdout)
    return {
        resource["urn"].rsplit("::", 1)[-1]: resource["outputs"]["result"]
        for resource in exported["deployment"]["resources"]
        if resource["type"] == PASSWORD
    }


def kept(stack) -> dict:
    return {
        key: value
        for key, value in uids_and_generations(stack.namespace_objects()).items()
        if key[0] in KEPT
    }


def test_make_up_over_the_previous_releases_stack_keeps_passwords_secrets_and_the_database(
    deployed_by_the_previous_release,
):
    stack = deployed_by_the_previous_release
    passwords_before = passwords(stack)
    kept_before = kept(stack)
    plan = stack.preview_steps()

    upgraded = stack.up()

    assert upgraded.returncode == 0, upgraded.output
    replaced_or_deleted = {
        step["urn"]: step["op"]
        for step in plan
        if step["op"] in ("replace", "create-replacement", "delete-replaced", "delete")
        and step["urn"].split("::")[-2].split("$")[-1]
        in (PASSWORD, "kubernetes:core/v1:Secret", "kubernetes:apps/v1:StatefulSet")
    }
    assert replaced_or_deleted == {}
    after = passwords(stack)
    assert len(passwords_before) >= 3
    assert {name: after.get(name) for name in passwords_before} == passwords_before
    now = kept(stack)
    assert {key: now.get(key, (None,))[0] for key in kept_before} == {
        key: value[0] for key, value in kept_before.items()
    }, "the same Secrets, StatefulSet and claim (uids)"
    assert ("StatefulSet", NAMESPACE, "postgres") in now
    drift = stack.drift()
    assert drift.returncode == 0, drift.output
