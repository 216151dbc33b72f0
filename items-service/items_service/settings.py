"""items-service settings, read once from the environment (DESIGN §5)."""

import os
from dataclasses import dataclass

from service_common import config

PORT = 8080
# Probes and metrics (DESIGN §2): a port no Kubernetes Service exposes.
OPS_PORT = 9080


@dataclass(frozen=True)
class Settings:
    database_url: str
    audit_service_url: str
    audit_token: str
    # Proxies in front of gunicorn that set X-Forwarded-For: the client's
    # address is taken from that many entries from its end. 0: from the TCP
    # peer, so that no client can claim another address.
    trusted_proxy_count: int = 0
    # Rows audit_outbox may hold before audited requests are refused (DESIGN §3):
    # about 500 bytes each, so 100,000 take some 50 MB of the database's volume.
    audit_outbox_limit: int = 100_000
    ops_port: int = OPS_PORT

    @classmethod
    def from_env(cls, env: config.Environment = os.environ) -> "Settings":
        return cls(
            database_url=config.database_url(env),
            audit_service_url=config.http_url(env, "AUDIT_SERVICE_URL"),
            audit_token=config.audit_token(env),
            trusted_proxy_count=config.integer(env, "TRUSTED_PROXY_COUNT", 0, 0, 5),
            audit_outbox_limit=config.integer(
                env, "AUDIT_OUTBOX_LIMIT", cls.audit_outbox_limit, 1, 100_000_000
            ),
            ops_port=config.ops_port(env, OPS_PORT),
        )
