"""One Flask service: its Secret, Deployment, Service and PodDisruptionBudget."""

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import pods
from infra.exposure import PublicExposure
from infra.front_proxy import UPSTREAM_EXTRA_DRAIN_SECONDS, UPSTREAM_PORT, FrontProxy

SECRETS_DIR = "/run/secrets/service"
# The CA certificate of an external database, when the stack gives one.
DATABASE_CA_FILE = f"{SECRETS_DIR}/database-ca.crt"
# preStop sleep, then gunicorn's graceful stop (20 s); the grace period covers both,
# behind a front proxy too (whose drain delays gunicorn's stop by 10 s).
DRAIN_SECONDS = 5
GRACE_SECONDS = 40
# gunicorn worker processes per pod (WEB_CONCURRENCY).
WORKERS = 2
# A rolling update starts one new pod before it stops an old one.
MAX_SURGE = 1


@dataclass(frozen=True)
class FlaskServiceArgs:
    name: str  # items-service | audit-service: Deployment, Service and pod label
    namespace: pulumi.Input[str]
    image: pulumi.Input[str]
    port: int
    # Probes and metrics (OPS_PORT, DESIGN §2): a container port no Service exposes.
    ops_port: int
    replicas: int
    database_url: pulumi.Output  # secret, with this service's own role
    audit_token: pulumi.Output  # secret
    log_level: str
    env: dict[str, str] = field(default_factory=dict)  # further plain settings
    # PEM of the CA that signed the database server's certificate, which
    # database_url expects at DATABASE_CA_FILE.
    database_root_certificate: str | None = None
    # How users outside the cluster reach it; None: from inside the cluster only.
    public: PublicExposure | None = None
    # Secret of type kubernetes.io/dockerconfigjson for a private registry.
    image_pull_secret: pulumi.Input[str] | None = None
    # The image reaches the cluster without a registry (ServiceImage.loaded_locally).
    image_loaded_locally: bool = False
    # A buffering proxy in the pod that takes the public port; gunicorn then
    # listens on loopback behind it.
    front_proxy: FrontProxy | None = None
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def peak_database_connections(replicas: int, connections_per_worker: int) -> int:
    """The most connections a service's pods hold at once: during a rolling update,
    every worker of every pod with a full pool."""
    return (replicas + MAX_SURGE) * WORKERS * connections_per_worker


class FlaskService(pulumi.ComponentResource):
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(
        self, name: str, args: FlaskServiceArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:services:FlaskService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        secret_data = {"database-url": args.database_url, "audit-token": args.audit_token}
        if args.database_root_certificate:
            secret_data[DATABASE_CA_FILE.rsplit("/", 1)[1]] = args.database_root_certificate
        secret = k8s.core.v1.Secret(
            args.name,
            metadata=pods.metadata(args.name, args.namespace),
            type="Opaque",
            string_data=secret_data,
            opts=child,
        )
        proxy = args.front_proxy
        env = {
            "PORT": str(args.port),
            "OPS_PORT": str(args.ops_port),
            "LOG_LEVEL": args.log_level,
            "WEB_CONCURRENCY": str(WORKERS),
            "DATABASE_URL_FILE": f"{SECRETS_DIR}/database-url",
            "AUDIT_TOKEN_FILE": f"{SECRETS_DIR}/audit-token",
            **args.env,
        }
        if proxy is not None:
            # Reachable only through the proxy (the image listens on every address
            # of the pod), which tells it the client's address; its operations
            # port stays on the pod's addresses, for the kubelet and Prometheus.
            env.update(
                PORT=str(UPSTREAM_PORT),
                BIND_ADDRESS="127.0.0.1",
                OPS_BIND_ADDRESS="0.0.0.0",  # noqa: S104 (the pod's own addresses)
                TRUSTED_PROXY_COUNT="1",
            )
        ops_port = k8s.core.v1.ContainerPortArgs(name="ops", container_port=args.ops_port)
        # Probes reach gunicorn on its operations port, never through the proxy,
        # whose per-client limits could refuse them.
        probe_port = "ops"
        container = k8s.core.v1.ContainerArgs(
            name=args.name,
            image=args.image,
            image_pull_policy="IfNotPresent",
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=args.port), ops_port]
            if proxy is None
            else [ops_port],
            env=[k8s.core.v1.EnvVarArgs(name=key, value=value) for key, value in env.items()],
            volume_mounts=[
                pods.mount("secrets", SECRETS_DIR),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("100m", "128Mi", "500m", "256Mi"),
            startup_probe=pods.http_probe("/healthz", probe_port, period=2, failures=30),
            liveness_probe=pods.http_probe("/healthz", probe_port, period=10, failures=3),
            readiness_probe=pods.http_probe("/readyz", probe_port, period=5, failures=2),
            lifecycle=pods.drain_pre_stop(
                DRAIN_SECONDS if proxy is None else DRAIN_SECONDS + UPSTREAM_EXTRA_DRAIN_SECONDS
            ),
        )
        containers = [container]
        volumes = [pods.secret_volume("secrets", secret.metadata.name), pods.empty_dir("tmp")]
        if proxy is not None:
            proxy_config = proxy.config_map(f"{args.name}-proxy", args.namespace, child)
            containers.append(proxy.container(f"{args.name}-proxy", DRAIN_SECONDS))
            volumes += proxy.volumes(proxy_config.metadata.name)
        pod_labels = pods.labels(args.name)
        self.deployment = k8s.apps.v1.Deployment(
            args.name,
            metadata=pods.workload_metadata(
                args.name, args.namespace, image_loaded_locally=args.image_loaded_locally
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=args.replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                        max_unavailable=0, max_surge=MAX_SURGE
                    ),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=pod_labels,
                        annotations={
                            **pods.secret_checksum_annotation(secret_data),
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(args.ops_port),
                            "prometheus.io/path": "/metrics",
                        },
                    ),
                    spec=pods.pod_spec(
                        containers,
                        volumes,
                        grace_seconds=GRACE_SECONDS,
                        image_pull_secrets=[
                            k8s.core.v1.LocalObjectReferenceArgs(name=args.image_pull_secret)
                        ]
                        if args.image_pull_secret
                        else None,
                        # Replicas on different nodes where there are several.
                        topology_spread_constraints=[
                            k8s.core.v1.TopologySpreadConstraintArgs(
                                max_skew=1,
                                topology_key="kubernetes.io/hostname",
                                when_unsatisfiable="ScheduleAnyway",
                                label_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels=pod_labels
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        # After the Deployment: the Service's wait for ready endpoints starts when
        # there are pods, not while the images build and the database starts.
        self.service = pods.service(
            args.name,
            args.namespace,
            args.port,
            pulumi.ResourceOptions(parent=self, depends_on=[self.deployment]),
            **(args.public.service_fields() if args.public else {}),
        )
        if args.public is not None:
            args.public.ingress(
                args.name,
                args.namespace,
                pulumi.ResourceOptions(parent=self, depends_on=[self.service]),
            )
        # One pod at a time may be evicted: a drain never takes the service down.
        k8s.policy.v1.PodDisruptionBudget(
            args.name,
            metadata=pods.metadata(args.name, args.namespace),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pod_labels),
            ),
            opts=child,
        )
        self.register_outputs({})
