"""The whole system: composes the components and exports the stack outputs.

`__main__.py` runs `deploy()` under the Pulumi CLI; `infra.render` and the
tests run it under Pulumi's mock runtime.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra import config as stack_config
from infra.database import (
    DatabaseEndpoint,
    ExternalDatabase,
    ExternalDatabaseArgs,
    Postgres,
    PostgresArgs,
)
from infra.grafana import Grafana, GrafanaArgs
from infra.images import ServiceImage, ServiceImageArgs
from infra.network_policies import NetworkPolicies, NetworkPoliciesArgs, system_rules
from infra.prometheus import URL as PROMETHEUS_URL
from infra.prometheus import Prometheus, PrometheusArgs
from infra.schema_job import AUDIT_ROLE, ITEMS_ROLE, SchemaJob, SchemaJobArgs
from infra.service import FlaskService, FlaskServiceArgs

REPO_ROOT = Path(__file__).resolve().parent.parent
ITEMS_PORT = 8080
AUDIT_PORT = 8081


@dataclass(frozen=True)
class Sources:
    """What the program reads from the repository."""

    repo_root: Path
    schema_sql: str

    @classmethod
    def from_repo(cls, repo_root: Path = REPO_ROOT) -> "Sources":
        return cls(
            repo_root=repo_root,
            schema_sql=(repo_root / "database" / "schema.sql").read_text(encoding="utf-8"),
        )


def deploy(cfg: stack_config.StackConfig | None = None, sources: Sources | None = None) -> None:
    cfg = cfg or stack_config.load()
    sources = sources or Sources.from_repo()

    provider = k8s.Provider("kubernetes", context=cfg.context)
    k8s_opts = pulumi.ResourceOptions(provider=provider)
    namespace = k8s.core.v1.Namespace(
        "namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=cfg.namespace,
            labels={
                "app.kubernetes.io/part-of": "items-audit",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        ),
        opts=k8s_opts,
    )
    ns = namespace.metadata.name
    in_ns = pulumi.ResourceOptions(provider=provider, depends_on=[namespace])

    items_image, audit_image = (
        ServiceImage(
            service,
            ServiceImageArgs(
                service=service,
                repo_root=sources.repo_root,
                # Relative, so that the stack's state does not depend on where the clone is.
                build_context=os.path.relpath(sources.repo_root, os.getcwd()),
                cluster=cfg.cluster,
                kind_cluster_name=cfg.kind_cluster_name,
                registry=cfg.image_registry,
                registry_username=cfg.registry_username,
                registry_password=cfg.registry_password,
                python_image=cfg.python_image,
            ),
        )
        for service in ("items-service", "audit-service")
    )

    if cfg.database_url is None:
        database = Postgres(
            "database",
            PostgresArgs(
                namespace=ns, storage=cfg.postgres_storage, storage_class=cfg.storage_class
            ),
            opts=in_ns,
        )
    else:
        database = ExternalDatabase(
            "database", ExternalDatabaseArgs(namespace=ns, url=cfg.database_url), opts=in_ns
        )
    endpoint: DatabaseEndpoint = database.endpoint

    items_password = random.RandomPassword("items-service-db-password", length=32, special=False)
    audit_password = random.RandomPassword("audit-service-db-password", length=32, special=False)
    audit_token = random.RandomPassword("audit-token", length=48, special=False)

    schema = SchemaJob(
        "schema",
        SchemaJobArgs(
            namespace=ns,
            schema_sql=sources.schema_sql,
            endpoint=endpoint,
            items_password=items_password.result,
            audit_password=audit_password.result,
            depends_on=[database],
        ),
        opts=in_ns,
    )

    FlaskService(
        "audit-service",
        FlaskServiceArgs(
            name="audit-service",
            namespace=ns,
            image=audit_image.ref,
            port=AUDIT_PORT,
            replicas=cfg.audit_replicas,
            database_url=endpoint.url_for(AUDIT_ROLE, audit_password.result),
            audit_token=audit_token.result,
            log_level=cfg.log_level,
            depends_on=[schema.job, *audit_image.ready],
        ),
        opts=in_ns,
    )
    FlaskService(
        "items-service",
        FlaskServiceArgs(
            name="items-service",
            namespace=ns,
            image=items_image.ref,
            port=ITEMS_PORT,
            replicas=cfg.items_replicas,
            database_url=endpoint.url_for(ITEMS_ROLE, items_password.result),
            audit_token=audit_token.result,
            log_level=cfg.log_level,
            env={"AUDIT_SERVICE_URL": f"http://audit-service:{AUDIT_PORT}"},
            node_port=stack_config.ITEMS_NODE_PORT,
            depends_on=[schema.job, *items_image.ready],
        ),
        opts=in_ns,
    )

    NetworkPolicies(
        "network-policies",
        NetworkPoliciesArgs(
            namespace=ns,
            rules=system_rules(
                ITEMS_PORT,
                AUDIT_PORT,
                in_cluster_database=cfg.database_url is None,
                monitoring=cfg.monitoring,
            ),
        ),
        opts=in_ns,
    )

    pulumi.export("namespace", ns)
    pulumi.export("items_url", cfg.public_url(stack_config.ITEMS_NODE_PORT))
    if cfg.monitoring:
        Prometheus(
            "prometheus",
            PrometheusArgs(
                namespace=ns,
                namespace_name=cfg.namespace,
                node_port=stack_config.PROMETHEUS_NODE_PORT,
            ),
            opts=in_ns,
        )
        grafana = Grafana(
            "grafana",
            GrafanaArgs(
                namespace=ns,
                prometheus_url=PROMETHEUS_URL,
                node_port=stack_config.GRAFANA_NODE_PORT,
            ),
            opts=in_ns,
        )
        pulumi.export("grafana_url", cfg.public_url(stack_config.GRAFANA_NODE_PORT))
        pulumi.export("prometheus_url", cfg.public_url(stack_config.PROMETHEUS_NODE_PORT))
        pulumi.export("grafana_admin_password", pulumi.Output.secret(grafana.admin_password))
