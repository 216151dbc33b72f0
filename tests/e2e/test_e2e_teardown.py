"""`make down` on a cluster of the user's own: every object and the namespace are
gone from the API, and the stack's state holds nothing."""


def test_make_down_removes_every_object_and_empties_the_state(deployed):
    assert deployed.live()

    down = deployed.down()

    assert down.returncode == 0, down.stdout + down.stderr
    assert deployed.live() == []
    assert not deployed.namespace_exists()
    assert deployed.state_resources() == []
    # The cluster is the user's: make down leaves it.
    assert deployed.kubectl("get", "--raw", "/readyz").returncode == 0
