"""The images set the address the services listen on in a container: all of
the container's addresses (BIND_ADDRESS=0.0.0.0), where the services' own
default is loopback (tests/integration/test_bind_address.py)."""

import json

import pytest

from tests.containers.docker_cli import SERVICE_PORTS, docker, image_tag
from tests.support.network import listening_addresses


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("service", SERVICE_PORTS)
def test_each_image_sets_the_address_its_service_listens_on(service):
    environment = json.loads(
        docker("image", "inspect", "--format", "{{json .Config.Env}}", image_tag(service))
    )

    assert "BIND_ADDRESS=0.0.0.0" in environment


def test_a_service_in_its_container_listens_on_every_address(audit_container):
    def read_inside(path: str) -> str:
        return docker("exec", audit_container, "cat", path)

    assert listening_addresses(SERVICE_PORTS["audit-service"], read_inside) == {"0.0.0.0"}
