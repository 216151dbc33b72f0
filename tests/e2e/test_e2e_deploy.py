"""`make up` from nothing on a real API server, on the user's path: the stack is
created by scripts/up in the user's own backend (the state directory created when
it is missing) with the default passphrase; every object the offline render
promises exists as promised and nothing else does, admitted under Pod Security
`restricted` without a warning; the outputs are the documented ones; a second run
changes nothing at all."""

import json
import re

import yaml

from infra.mock_runtime import CLUSTER_OBJECTS
from tests.e2e.conftest import rendered
from tests.e2e.objects import (
    api_server_values,
    compare,
    general_names,
    identity,
    uids_and_generations,
    unexplained,
)
from tests.e2e.stack import DEFAULT_PASSPHRASE, NAMESPACE, STACK, state_file

API_SERVER_IN_THE_RENDER = CLUSTER_OBJECTS[
    ("kubernetes:discovery.k8s.io/v1:EndpointSlice", "default/kubernetes")
]
STATE_DIRECTORY_CREATED = "==> creating the Pulumi state directory"


def test_make_up_creates_the_stack_in_the_users_own_backend_with_the_default_passphrase(
    stack, first_up, user_backend
):
    assert f"==> creating the Pulumi stack '{STACK}'" in first_up.stdout
    state = json.loads(state_file(user_backend.directory).read_text())
    types = {resource["type"] for resource in state["checkpoint"]["latest"]["resources"]}
    assert "kubernetes:apps/v1:StatefulSet" in types, sorted(types)
    # Not where $HOME points: the CLI resolves ~ from the user database.
    assert not (stack.home / ".pulumi-local").exists()
    # The stack's secrets are encrypted with scripts/up's default passphrase: the salt
    # the CLI wrote into the settings file, and the one the state records, are one.
    salt = yaml.safe_load((stack.clone / f"Pulumi.{STACK}.yaml").read_text())["encryptionsalt"]
    assert state["checkpoint"]["latest"]["secrets_providers"]["state"]["salt"] == salt
    wrong = stack.run(
        "pulumi",
        "stack",
        "output",
        "--show-secrets",
        "--stack",
        STACK,
        env={**stack.env, "PULUMI_CONFIG_PASSPHRASE": DEFAULT_PASSPHRASE + "-not"},
    )
    assert wrong.returncode != 0 and "incorrect passphrase" in wrong.stderr, wrong.output


def test_make_up_creates_the_state_directory_only_when_it_is_missing(first_up, user_backend):
    assert user_backend.directory.is_dir()
    if user_backend.existed_before:
        assert STATE_DIRECTORY_CREATED not in first_up.stdout
    else:
        assert f"{STATE_DIRECTORY_CREATED} {user_backend.directory} " in first_up.stdout


def test_make_up_from_nothing_creates_exactly_what_the_render_promises(stack, first_up, clone):
    promised = rendered(clone)
    live = stack.everything()
    by_identity = {identity(item): item for item in live}

    assert sorted(set(map(identity, promised)) - set(by_identity)) == [], "promised, missing"
    assert unexplained(live, promised) == [], "in the cluster, never promised"
    names = {
        **general_names(promised, live),
        **api_server_values(API_SERVER_IN_THE_RENDER),
        **api_server_values(
            stack.kubectl_json("get", "endpointslice", "kubernetes", "-n", "default")
        ),
    }
    wrong = [
        f"{identity(manifest)}: {difference}"
        for manifest in promised
        for difference in compare(manifest, by_identity[identity(manifest)], names)
    ]
    assert not wrong, "\n".join(wrong)


def test_the_namespace_enforces_pod_security_restricted_and_nothing_was_warned_about(
    stack, first_up
):
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-probe", "namespace": NAMESPACE},
        "spec": {
            "containers": [
                {"name": "probe", "image": "busybox", "securityContext": {"privileged": True}}
            ]
        },
    }
    result = stack.kubectl(
        "create", "--dry-run=server", "--filename=-", input_text=json.dumps(privileged)
    )
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr
    assert "PodSecurity" not in first_up.output
    assert not re.search(r"(?i)warning: .*deprecated", first_up.output)


def test_the_outputs_are_the_documented_ones_with_the_documented_environment(stack, first_up):
    """What scripts/up prints: outputs read from the clone, a secret one with the
    passphrase it names (the default)."""
    assert f"export PULUMI_CONFIG_PASSPHRASE={DEFAULT_PASSPHRASE}" in first_up.stdout
    plain = stack.run("pulumi", "stack", "output", "items_url", "--stack", STACK)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "http://localhost:30080"
    assert stack.output("namespace") == NAMESPACE
    secret = stack.output("grafana_admin_password", "--show-secrets")
    assert re.fullmatch(r"[A-Za-z0-9]{24}", secret)


def update_summary(output: str) -> list[str]:
    """The lines of the update's `Resources:` summary."""
    _, _, after = output.rpartition("Resources:\n")
    lines = []
    for line in after.splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return lines


def test_a_second_make_up_with_nothing_changed_changes_nothing(deployed):
    before = uids_and_generations(deployed.everything())

    second = deployed.up().check()

    summary = update_summary(second.stdout)
    assert summary and all(re.fullmatch(r"\d+ unchanged", line) for line in summary), summary
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output
    assert uids_and_generations(deployed.everything()) == before
