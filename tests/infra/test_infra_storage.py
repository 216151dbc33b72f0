"""The database's volume (DESIGN §4, §6): the write-ahead log is capped at a
share of it, and audit-service is told its size for the storage alerts."""

from infra import mock_runtime
from tests.infra.k8s_objects import find

GiB = 1024**3


def _postgres_arguments(objects) -> list[str]:
    return find(objects, "StatefulSet", "postgres")["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]


def _audit_env(objects) -> dict[str, str]:
    container = find(objects, "Deployment", "audit-service")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return {variable["name"]: variable.get("value") for variable in container["env"]}


def test_the_write_ahead_log_is_capped_at_a_quarter_of_the_default_1_gib_volume(objects):
    # PostgreSQL's own default, 1 GB, is the whole volume.
    assert "max_wal_size=256MB" in _postgres_arguments(objects)


def test_a_larger_volume_gets_a_larger_write_ahead_log_and_audit_service_is_told_its_size():
    objects = mock_runtime.run({"items-audit:postgres_storage": "8Gi"}).kubernetes_objects()
    assert "max_wal_size=2048MB" in _postgres_arguments(objects)
    assert _audit_env(objects)["DATABASE_VOLUME_BYTES"] == str(8 * GiB)


def test_audit_service_is_told_the_size_of_the_in_cluster_volume_only(objects):
    assert _audit_env(objects)["DATABASE_VOLUME_BYTES"] == str(GiB)
    external = mock_runtime.run(
        {
            "items-audit:database_url": "postgresql://admin:pw@db.example.com/shop"
            "?sslmode=verify-full",
            "items-audit:database_cidrs": "10.0.12.0/24",
        },
        secret_keys=("items-audit:database_url",),
    ).kubernetes_objects()
    assert "DATABASE_VOLUME_BYTES" not in _audit_env(external)
