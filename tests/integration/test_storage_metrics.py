"""audit-service reports how full the database's volume is and whether the
retention keeps up (DESIGN §6): what the storage alerts
(monitoring/rules/storage.yml) read in the stack's own Prometheus, which cannot
see the kubelet's volume statistics."""

from tests.support.metrics import scrape, value
from tests.support.services import audit_service

VOLUME_BYTES = 1024**3
DAY = 86400


def test_audit_service_reports_the_database_size_the_volume_and_the_retention_it_is_told(
    database,
):
    database.query(
        """
        INSERT INTO audit_logs (event_id, service, action, resource_type, status_code,
            request_id, occurred_at, created_at)
        VALUES (gen_random_uuid(), 'items-service', 'item.list', 'item', 200, 'old',
            now() - interval '1 day', now() - interval '1 day')
        RETURNING 1
        """
    )
    service = audit_service(database)
    service.env.update(DATABASE_VOLUME_BYTES=str(VOLUME_BYTES), AUDIT_RETENTION_DAYS="7")
    service.start()
    try:
        samples = scrape(service.ops_url)
        (size,) = database.query("SELECT pg_database_size(current_database())")[0]
    finally:
        service.close()

    assert value(samples, "database_volume_size_bytes") == VOLUME_BYTES
    assert value(samples, "database_size_bytes") == size
    assert value(samples, "audit_retention_seconds") == 7 * DAY
    assert DAY <= value(samples, "audit_oldest_event_age_seconds") < DAY + 60
    print(f"\ndatabase_size_bytes {size} of database_volume_size_bytes {VOLUME_BYTES}")


def test_what_it_is_not_told_is_reported_as_0_which_the_alerts_ignore(audit):
    samples = scrape(audit.ops_url)

    assert value(samples, "database_size_bytes") > 0
    for unknown in ("database_volume_size_bytes", "audit_retention_seconds"):
        assert (unknown, ()) in samples
        assert value(samples, unknown) == 0
