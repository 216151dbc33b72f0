"""Where a service listens: on loopback unless told otherwise (BIND_ADDRESS), so
that a service started by hand is not reachable from the network; the images
set 0.0.0.0 (tests/containers/test_bind_address.py)."""

import pytest

from tests.support.network import listening_addresses
from tests.support.services import audit_service, items_service


@pytest.mark.parametrize("make", [audit_service, items_service], ids=["audit", "items"])
def test_a_service_listens_on_loopback_only_by_default(database, make):
    service = make(database) if make is audit_service else make(database, "http://127.0.0.1:9")
    try:
        service.start()
        assert not {"BIND_ADDRESS", "GUNICORN_CMD_ARGS"} & set(service.env), "the default"
        assert listening_addresses(service.port) == {"127.0.0.1"}
    finally:
        service.close()


@pytest.mark.parametrize("address", ["0.0.0.0", "::"])
def test_bind_address_chooses_where_a_service_listens(database, address):
    service = audit_service(database)
    service.env["BIND_ADDRESS"] = address
    try:
        service.start()
        assert listening_addresses(service.port) == {address}
    finally:
        service.close()
