"""The cluster deleted behind Pulumi's back (no `make down`), then `make up` as
docs/troubleshooting.md says: everything is created again in the new cluster."""

from tests.e2e.conftest import rendered
from tests.e2e.stack import REPOSITORY
from tests.e2e.test_e2e_deploy import identity


def test_make_up_after_the_cluster_was_deleted_and_created_again_deploys_everything(
    deployed, clone
):
    for script in ("cluster-down", "cluster-up"):
        result = deployed.run(REPOSITORY / "e2e" / script)
        assert result.returncode == 0, result.stdout + result.stderr
    assert not deployed.namespace_exists(), "a new, empty cluster"

    up = deployed.up()

    assert up.returncode == 0, up.stdout + up.stderr
    assert sorted(map(identity, deployed.live())) == sorted(map(identity, rendered(clone)))
    preview = deployed.pulumi("preview", "--expect-no-changes")
    assert preview.returncode == 0, preview.stdout + preview.stderr
