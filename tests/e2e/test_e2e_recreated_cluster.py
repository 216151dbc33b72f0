"""The cluster deleted behind Pulumi's back (no `make down`), then `make up` as
docs/troubleshooting.md says: everything is created again in the new cluster. Leaves
the stack as `make up` leaves it, in the new cluster."""

import os
import subprocess

from tests.e2e.conftest import rendered, wait_until_healthy
from tests.e2e.objects import identity, unexplained
from tests.e2e.stack import REPOSITORY


def test_make_up_after_the_cluster_was_deleted_and_created_again_deploys_everything(
    deployed, clone
):
    # The cluster's own scripts, in the test's environment: the cluster lives in its cache.
    for script in ("cluster-down", "cluster-up"):
        result = subprocess.run(
            [REPOSITORY / "e2e" / script], capture_output=True, text=True, env=os.environ
        )
        assert result.returncode == 0, result.stdout + result.stderr
    assert not deployed.namespace_exists(), "a new, empty cluster"

    up = deployed.up()

    assert up.returncode == 0, up.output
    promised = rendered(clone)
    live = deployed.everything()
    assert sorted(set(map(identity, promised)) - set(map(identity, live))) == []
    assert unexplained(live, promised) == []
    wait_until_healthy(deployed)
    drift = deployed.drift()
    assert drift.returncode == 0, drift.output
