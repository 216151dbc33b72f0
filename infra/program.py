"""The whole system: composes the components and exports the stack outputs.

`__main__.py` runs `deploy()` under the Pulumi CLI; `infra.render` and the
tests run it under Pulumi's mock runtime.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

import monitoring
from infra import api_server, service
from infra import config as stack_config
from infra.credentials import Credentials
from infra.database import (
    DatabaseEndpoint,
    ExternalDatabase,
    ExternalDatabaseArgs,
    Postgres,
    PostgresArgs,
)
from infra.exposure import PublicExposure
from infra.front_proxy import FrontProxy
from infra.grafana import GRAFANA_PORT, Grafana, GrafanaArgs
from infra.images import LocalEngine, ServiceImage, ServiceImageArgs, registry_pull_secret
from infra.network_policies import (
    ExternalDatabaseExit,
    NetworkPolicies,
    NetworkPoliciesArgs,
    system_exits,
    system_flows,
)
from infra.prometheus import PROMETHEUS_PORT, Prometheus, PrometheusArgs
from infra.prometheus import URL as PROMETHEUS_URL
from infra.prometheus_operator import (
    PrometheusOperatorMonitoring,
    PrometheusOperatorMonitoringArgs,
    ScrapedService,
)
from infra.retention_job import RetentionJob, RetentionJobArgs
from infra.schema_job import AUDIT_ROLE, ITEMS_ROLE, SchemaJob, SchemaJobArgs
from infra.service import FlaskService, FlaskServiceArgs, peak_database_connections

REPO_ROOT = Path(__file__).resolve().parent.parent
ITEMS_PORT = 8080
AUDIT_PORT = 8081
# Probes and metrics: ports no Service exposes (DESIGN §2).
ITEMS_OPS_PORT = 9080
AUDIT_OPS_PORT = 9081
# Each gunicorn worker's connection pool (MAX_DB_CONNECTIONS in the services'
# factory.py; tests/infra checks they agree): the database's budget counts them.
ITEMS_CONNECTIONS_PER_WORKER = 10
AUDIT_CONNECTIONS_PER_WORKER = 9
MIGRATIONS_DIR = "database"


@dataclass(frozen=True)
class Sources:
    """What the program reads from the repository."""

    repo_root: Path
    # database/ as the schema Job applies it: schema.sql (migration 0001), the
    # numbered migrations after it, and migrate.sh, by file name.
    migrations: dict[str, str]
    # The items pod's proxy configuration (items-proxy/nginx.conf).
    items_proxy_config: str

    @classmethod
    def from_repo(cls, repo_root: Path = REPO_ROOT) -> "Sources":
        directory = repo_root / MIGRATIONS_DIR
        files = [
            directory / "schema.sql",
            *sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql")),
            directory / "migrate.sh",
        ]
        return cls(
            repo_root=repo_root,
            migrations={path.name: path.read_text(encoding="utf-8") for path in files},
            items_proxy_config=(repo_root / "items-proxy" / "nginx.conf").read_text(
                encoding="utf-8"
            ),
        )


def port_forward(namespace: str, service: str, port: int) -> str:
    """The command that makes a Service of the cluster reachable at localhost:port."""
    return f"kubectl --namespace {namespace} port-forward service/{service} {port}:{port}"


def deploy(cfg: stack_config.StackConfig | None = None, sources: Sources | None = None) -> None:
    cfg = cfg or stack_config.load()
    sources = sources or Sources.from_repo()

    # One kubeconfig file, named: the provider cannot read a KUBECONFIG list. A Secret
    # whose values change (a new password, a new key) is updated in place: without
    # enable_secret_mutable the provider deletes and creates it again, and a pod that
    # starts in between cannot mount it (the pods roll on the secret checksum anyway).
    provider = k8s.Provider(
        "kubernetes",
        kubeconfig=cfg.kubeconfig_file,
        context=cfg.context,
        enable_secret_mutable=True,
    )
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

    prebuilt = {"items-service": cfg.items_image, "audit-service": cfg.audit_image}
    engine = LocalEngine.ask() if not all(prebuilt.values()) else None
    images_opts = None
    if engine is not None:
        images_opts = pulumi.ResourceOptions(
            providers=[docker.Provider("docker-engine", host=engine.host)]
        )
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
                prebuilt=prebuilt[service],
                engine=engine,
                remote_platform=cfg.image_platform,
            ),
            opts=images_opts,
        )
        for service in ("items-service", "audit-service")
    )
    pull_secret = None
    if cfg.cluster == "remote" and cfg.registry_username:
        pull_secret = registry_pull_secret(
            ns, cfg.image_registry, cfg.registry_username, cfg.registry_password, in_ns
        ).metadata.name

    credentials = Credentials("credentials")

    peak_connections = peak_database_connections(
        cfg.items_replicas, ITEMS_CONNECTIONS_PER_WORKER
    ) + peak_database_connections(cfg.audit_replicas, AUDIT_CONNECTIONS_PER_WORKER)
    if cfg.database_url is None:
        database = Postgres(
            "database",
            PostgresArgs(
                namespace=ns,
                storage=cfg.postgres_storage,
                storage_bytes=cfg.postgres_storage_bytes,
                storage_class=cfg.storage_class,
                peak_service_connections=peak_connections,
            ),
            opts=in_ns,
        )
    else:
        pulumi.log.info(
            f"the services open up to {peak_connections} connections to the external database"
            " during a rolling update: its max_connections must allow them"
        )
        database = ExternalDatabase(
            "database",
            ExternalDatabaseArgs(
                namespace=ns,
                url=cfg.database_url,
                allow_unverified_tls=cfg.database_allow_unverified_tls,
                root_certificate=cfg.database_ca_certificate,
            ),
            opts=in_ns,
        )
    endpoint: DatabaseEndpoint = database.endpoint

    schema = SchemaJob(
        "schema",
        SchemaJobArgs(
            namespace=ns,
            migrations=sources.migrations,
            endpoint=endpoint,
            items_password=credentials.items_db_password,
            audit_password=credentials.audit_db_password,
            retention_password=credentials.retention_db_password,
            depends_on=[database],
        ),
        opts=in_ns,
    )
    items_exposure = PublicExposure(
        kind=cfg.exposure,
        node_port=stack_config.ITEMS_NODE_PORT,
        host=cfg.public_host,
        ingress_class=cfg.ingress_class,
        tls_secret=cfg.ingress_tls_secret,
        source_ranges=list(cfg.load_balancer_source_ranges or ()) or None,
    )
    RetentionJob(
        "audit-retention",
        RetentionJobArgs(
            namespace=ns,
            endpoint=endpoint,
            password=credentials.retention_db_password,
            retention_days=cfg.audit_retention_days,
            depends_on=[schema.job],
        ),
        opts=in_ns,
    )
    audit_service = FlaskServiceArgs(
        name="audit-service",
        namespace=ns,
        image=audit_image.ref,
        port=AUDIT_PORT,
        ops_port=AUDIT_OPS_PORT,
        replicas=cfg.audit_replicas,
        database_url=endpoint.url_for(
            AUDIT_ROLE, credentials.audit_db_password, service.DATABASE_CA_FILE
        ),
        database_root_certificate=endpoint.root_certificate,
        audit_token=credentials.audit_token,
        log_level=cfg.log_level,
        # Exported for the storage alerts; an external server's volume is not ours to know.
        env={
            "AUDIT_RETENTION_DAYS": str(cfg.audit_retention_days),
            **(
                {"DATABASE_VOLUME_BYTES": str(cfg.postgres_storage_bytes)}
                if cfg.database_url is None
                else {}
            ),
        },
        image_pull_secret=pull_secret,
        image_loaded_locally=audit_image.loaded_locally,
        depends_on=[schema.job, *audit_image.ready],
    )
    items_service = FlaskServiceArgs(
        name="items-service",
        namespace=ns,
        image=items_image.ref,
        port=ITEMS_PORT,
        ops_port=ITEMS_OPS_PORT,
        replicas=cfg.items_replicas,
        database_url=endpoint.url_for(
            ITEMS_ROLE, credentials.items_db_password, service.DATABASE_CA_FILE
        ),
        database_root_certificate=endpoint.root_certificate,
        audit_token=credentials.audit_token,
        log_level=cfg.log_level,
        env={"AUDIT_SERVICE_URL": f"http://audit-service:{AUDIT_PORT}"},
        public=items_exposure,
        image_pull_secret=pull_secret,
        image_loaded_locally=items_image.loaded_locally,
        # Public: a buffering proxy keeps slow and idle clients away from gunicorn.
        front_proxy=FrontProxy(sources.items_proxy_config),
        depends_on=[schema.job, *items_image.ready],
    )
    services = {
        args.name: FlaskService(args.name, args, opts=in_ns)
        for args in (audit_service, items_service)
    }

    NetworkPolicies(
        "network-policies",
        NetworkPoliciesArgs(
            namespace=ns,
            flows=system_flows(
                ITEMS_PORT,
                AUDIT_PORT,
                ITEMS_OPS_PORT,
                AUDIT_OPS_PORT,
                in_cluster_database=cfg.database_url is None,
                monitoring=cfg.monitoring,
                monitoring_published=cfg.monitoring_published,
                operator_namespace=cfg.prometheus_operator_namespace
                if cfg.prometheus_operator
                else None,
            ),
            exits=system_exits(
                None
                if cfg.database_url is None
                else ExternalDatabaseExit(
                    cidrs=list(cfg.database_cidrs),
                    port=pulumi.Output.unsecret(endpoint.location.apply(lambda where: where.port)),
                ),
                # Prometheus' pod discovery watches the API server.
                api_server=api_server.locate(cfg.api_server_cidrs, provider)
                if cfg.monitoring
                else None,
            ),
        ),
        opts=in_ns,
    )

    pulumi.export("namespace", ns)
    items_url = items_exposure.url(
        services["items-service"].service, ITEMS_PORT, cfg.public_url(stack_config.ITEMS_NODE_PORT)
    )
    pulumi.export("items_url", items_url)
    if cfg.monitoring:
        Prometheus(
            "prometheus",
            PrometheusArgs(
                namespace=ns,
                namespace_name=cfg.namespace,
                node_port=stack_config.PROMETHEUS_NODE_PORT if cfg.monitoring_published else None,
            ),
            opts=in_ns,
        )
        grafana = Grafana(
            "grafana",
            GrafanaArgs(
                namespace=ns,
                prometheus_url=PROMETHEUS_URL,
                node_port=stack_config.GRAFANA_NODE_PORT if cfg.monitoring_published else None,
            ),
            opts=in_ns,
        )
        if cfg.monitoring_published:
            pulumi.export("grafana_url", cfg.public_url(stack_config.GRAFANA_NODE_PORT))
            pulumi.export("prometheus_url", cfg.public_url(stack_config.PROMETHEUS_NODE_PORT))
        else:
            # Reachable from inside the cluster only: the URLs are those of
            # `kubectl port-forward`, which the outputs name too.
            pulumi.export("grafana_url", f"http://localhost:{GRAFANA_PORT}")
            pulumi.export("prometheus_url", f"http://localhost:{PROMETHEUS_PORT}")
            pulumi.export(
                "grafana_port_forward", port_forward(cfg.namespace, "grafana", GRAFANA_PORT)
            )
            pulumi.export(
                "prometheus_port_forward",
                port_forward(cfg.namespace, "prometheus", PROMETHEUS_PORT),
            )
        pulumi.export("grafana_admin_password", pulumi.Output.secret(grafana.admin_password))
    if cfg.prometheus_operator:
        release = cfg.prometheus_operator_release
        PrometheusOperatorMonitoring(
            "prometheus-operator",
            PrometheusOperatorMonitoringArgs(
                namespace=ns,
                services=[
                    ScrapedService("items-service", "ops"),
                    ScrapedService("audit-service", "ops"),
                ],
                rule_groups=monitoring.rule_groups(),
                labels={"release": release} if release else {},
            ),
            opts=in_ns,
        )
