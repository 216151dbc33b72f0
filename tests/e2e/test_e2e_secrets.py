"""A secret setting as the docs have the user set it (`pulumi config set --secret`):
the registry password a cluster that pulls from a private registry needs (cluster
`remote`, the run's own registry, its items behind an Ingress). It reaches the
cluster's pull Secret; its plaintext, in any form the Secret carries it, is nowhere in
`pulumi stack export` nor in the settings file; and the offline render takes that
settings file as it is. The settings are put back and `make up` run again before the
test ends."""

import base64
import json
import secrets
import time

from tests.e2e.conftest import rendered, settings_changed
from tests.e2e.objects import identity
from tests.e2e.stack import NAMESPACE, STACK, Command, E2EStack

PULL_SECRET = "registry-credentials"
USERNAME = "e2e-puller"
PUBLIC_HOST = "items.e2e.invalid"
# What an ingress controller writes into the Ingress' status; nothing is sent there.
INGRESS_STATUS = {"status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}}


def up_as_an_ingress_controller_would_answer(stack: E2EStack) -> Command:
    """`make up` on a cluster with an ingress controller: the simulated cluster has
    none, and Pulumi waits until the items Ingress has an address, so the test gives it
    one as soon as the Ingress exists, as the controller would."""
    running = stack.run_in_background("scripts/up")
    while running.process.poll() is None:
        patched = stack.kubectl(
            "patch",
            "ingress",
            "items-service",
            "-n",
            NAMESPACE,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps(INGRESS_STATUS),
        )
        if patched.returncode == 0:
            break
        time.sleep(1)
    return running.wait_for_result(timeout=1800)


def test_a_secret_setting_reaches_the_clusters_secret_and_is_stored_only_encrypted(
    deployed, registry, clone
):
    password = secrets.token_urlsafe(24)
    with settings_changed(
        deployed,
        cluster="remote",
        image_registry=registry,
        registry_username=USERNAME,
        # A remote cluster's items is behind an Ingress by default, which answers for it.
        public_host=PUBLIC_HOST,
    ):
        deployed.pulumi("config", "set", "--secret", "registry_password", password).check()
        try:
            up_as_an_ingress_controller_would_answer(deployed).check()
            stored = deployed.kubectl_json("get", "secret", PULL_SECRET, "-n", NAMESPACE)
            exported = deployed.pulumi("stack", "export").check().stdout
            settings_file = (clone / f"Pulumi.{STACK}.yaml").read_text()
            promised = rendered(clone)
        finally:
            deployed.pulumi("config", "rm", "registry_password").check()
    deployed.up().check()

    encoded = stored["data"][".dockerconfigjson"]
    auths = json.loads(base64.b64decode(encoded))["auths"]
    assert base64.b64decode(auths[registry]["auth"]).decode() == f"{USERNAME}:{password}"
    for form in (password, auths[registry]["auth"], encoded):
        assert form not in exported
        assert form not in settings_file
    assert "secure: v1:" in settings_file
    assert ("Secret", NAMESPACE, PULL_SECRET) in set(map(identity, promised))
    assert (
        not deployed.kubectl(
            "get", "secret", PULL_SECRET, "-n", NAMESPACE, "--ignore-not-found", "-o", "name"
        )
        .check()
        .stdout
    )
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output
