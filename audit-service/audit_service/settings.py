"""audit-service settings, read once from the environment (DESIGN §5)."""

import os
from dataclasses import dataclass

from service_common import config

PORT = 8081
# Probes and metrics (DESIGN §2): a port no Kubernetes Service exposes.
OPS_PORT = 9081


@dataclass(frozen=True)
class Settings:
    database_url: str
    audit_token: str
    # The size of the database's volume, when known: exported for the storage alert.
    database_volume_bytes: int | None = None
    # The audit trail's retention period (the retention CronJob's), for the retention alert.
    audit_retention_days: int | None = None
    ops_port: int = OPS_PORT

    @classmethod
    def from_env(cls, env: config.Environment = os.environ) -> "Settings":
        return cls(
            database_url=config.database_url(env),
            audit_token=config.audit_token(env),
            database_volume_bytes=config.integer(env, "DATABASE_VOLUME_BYTES", 0, 0, 2**63 - 1)
            or None,
            audit_retention_days=config.integer(env, "AUDIT_RETENTION_DAYS", 0, 0, 3650) or None,
            ops_port=config.ops_port(env, OPS_PORT),
        )
