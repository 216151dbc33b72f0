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
    ops_port: int = OPS_PORT

    @classmethod
    def from_env(cls, env: config.Environment = os.environ) -> "Settings":
        return cls(
            database_url=config.database_url(env),
            audit_token=config.audit_token(env),
            ops_port=config.ops_port(env, OPS_PORT),
        )
