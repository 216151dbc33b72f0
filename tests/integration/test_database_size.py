"""audit-service reports how full the database's volume is (DESIGN §6): what the
storage alerts (monitoring/rules/storage.yml) read in the stack's own Prometheus,
which cannot see the kubelet's volume statistics."""

from tests.support.metrics import scrape, value
from tests.support.services import audit_service

VOLUME_BYTES = 1024**3


def test_audit_service_reports_the_database_size_and_the_volume_it_is_told(database):
    service = audit_service(database)
    service.env["DATABASE_VOLUME_BYTES"] = str(VOLUME_BYTES)
    service.start()
    try:
        samples = scrape(service.url)
        (size,) = database.query("SELECT pg_database_size(current_database())")[0]
    finally:
        service.close()

    assert value(samples, "database_volume_size_bytes") == VOLUME_BYTES
    assert value(samples, "database_size_bytes") == size
    print(f"\ndatabase_size_bytes {size} of database_volume_size_bytes {VOLUME_BYTES}")


def test_without_a_known_volume_its_size_is_reported_as_0_which_the_alerts_ignore(audit):
    samples = scrape(audit.url)

    assert value(samples, "database_size_bytes") > 0
    assert ("database_volume_size_bytes", ()) in samples
    assert value(samples, "database_volume_size_bytes") == 0
