"""`make up` from nothing on a real API server: every object the offline render
promises exists, admitted under Pod Security `restricted` without a warning,
the outputs are the documented ones, and a second run changes nothing."""

import json
import re

from tests.e2e.conftest import rendered
from tests.e2e.stack import NAMESPACE, PASSPHRASE

AUTONAMED = "pulumi.com/autonamed"


def identity(manifest: dict) -> tuple[str, str, str]:
    """(kind, namespace, name), with the parts no render can know replaced: the
    suffix Pulumi gives a name it chooses, the hash in the migration Job's name
    (it covers the real StatefulSet's uid)."""
    metadata = manifest["metadata"]
    name = metadata["name"]
    if (metadata.get("annotations") or {}).get(AUTONAMED) == "true":
        name = name.rsplit("-", 1)[0] + "-*"
    name = re.sub(r"^postgres-schema-[0-9a-f]{10}$", "postgres-schema-*", name)
    return manifest["kind"], metadata.get("namespace", ""), name


def essentials(manifest: dict) -> dict:
    """What a workload runs and how: images, ports, selectors, security contexts."""
    spec = manifest["spec"]
    pod = spec["template"]["spec"]
    return {
        # A Job's selector is the API server's to generate.
        "selector": None if manifest["kind"] == "Job" else spec["selector"]["matchLabels"],
        "pod_security": pod.get("securityContext"),
        "containers": [
            {
                "name": container["name"],
                "image": container["image"],
                "ports": sorted(
                    (port.get("name"), port["containerPort"]) for port in container.get("ports", [])
                ),
                "security": container["securityContext"],
            }
            for container in pod["containers"]
        ],
    }


def test_make_up_from_nothing_creates_exactly_what_the_render_promises(stack, first_up, clone):
    promised = rendered(clone)
    live = stack.live()
    assert sorted(map(identity, live)) == sorted(map(identity, promised))
    by_identity = {identity(manifest): manifest for manifest in live}
    for manifest in promised:
        if manifest["kind"] in ("Deployment", "StatefulSet", "Job"):
            assert essentials(by_identity[identity(manifest)]) == essentials(manifest), identity(
                manifest
            )


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
    output = first_up.stdout + first_up.stderr
    assert "PodSecurity" not in output
    assert not re.search(r"(?i)warning: .*deprecated", output)


def test_the_outputs_are_the_documented_ones_with_the_documented_environment(stack, first_up):
    """README: outputs read from the clone; a secret one needs the passphrase too."""
    assert stack.output("items_url") == "http://localhost:30080"
    assert stack.output("namespace") == NAMESPACE
    without_passphrase = {k: v for k, v in stack.env.items() if k != "PULUMI_CONFIG_PASSPHRASE"}
    plain = stack.run(
        "pulumi", "stack", "output", "items_url", "--stack", "e2e", env=without_passphrase
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == "http://localhost:30080"
    secret = stack.run(
        "pulumi",
        "stack",
        "output",
        "--stack",
        "e2e",
        "--show-secrets",
        "grafana_admin_password",
        env={**without_passphrase, "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE},
    )
    assert secret.returncode == 0, secret.stderr
    assert re.fullmatch(r"[A-Za-z0-9]{24}", secret.stdout.strip())


def test_a_second_make_up_with_nothing_changed_changes_nothing(stack, first_up):
    stack.up().check()
    preview = stack.pulumi("preview", "--expect-no-changes", "--diff")
    assert preview.returncode == 0, preview.stdout + preview.stderr
