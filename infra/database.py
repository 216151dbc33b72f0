"""PostgreSQL: a StatefulSet in the cluster, or an external server from config.

Either way the result is a `DatabaseEndpoint`: where the server is and the
credentials (as a Secret) that the schema Job uses: the superuser's of the
server in the cluster, the migration role's of an external one (no superuser
password is kept in a cluster that does not run the server).
"""

import dataclasses
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from infra import pods

# PostgreSQL 16 at 16.15 (16.4 has CVEs fixed in later patches), pinned by its (multi-arch
# index) digest; written whole, name:tag@digest in one literal, so that Renovate reads it.
POSTGRES_IMAGE = "postgres:16.15-bookworm@sha256:efedf3595f1d6f415c08568ba171029bf54052e754cc9f030e3f2412b21f3d67"  # noqa: E501
DATABASE_NAME = "itemsdb"
SUPERUSER = "postgres"
PORT = 5432
NAME = "postgres"  # also the headless Service, so the in-cluster host name
DATA_DIR = "/var/lib/postgresql/data"
ADMIN_SECRET = "postgres-admin"  # noqa: S105 (the Secret's name)
# An external server's: its migration role (the database's owner, CREATEROLE).
MIGRATOR_SECRET = "schema-migrator"  # noqa: S105 (the Secret's name)

# PostgreSQL's connection budget. Each service pod holds up to its workers' pools
# (infra/service.py); during a rolling update a Deployment runs one pod more than
# its replicas. On top: the schema Job, PostgreSQL's 3 connections reserved for
# superusers, and room for people and tools (psql, pg_dump, a second Job run).
RESERVED_CONNECTIONS = 1 + 3 + 6
# Memory: shared_buffers (128 MB, the default) and the server's own processes,
# plus each backend's private memory (a few MB; work_mem is 4 MB, per sort).
BASE_MEMORY_MI = 256
BACKEND_MEMORY_MI = 6
# The write-ahead log lives on the data volume too, and PostgreSQL's default cap
# (max_wal_size, 1 GB) is the whole of a 1 GiB volume: a quarter of the volume
# leaves the rest to the tables, whose size the storage alert watches.
MIN_MAX_WAL_SIZE_MB = 128


def max_wal_size_mb(volume_bytes: int) -> int:
    return max(volume_bytes // 4 // 1024**2, MIN_MAX_WAL_SIZE_MB)


def max_connections(peak_service_connections: int) -> int:
    return peak_service_connections + RESERVED_CONNECTIONS


def memory_limit(connections: int) -> str:
    """The container's limit, in whole 64 Mi steps: a full set of backends fits."""
    needed = BASE_MEMORY_MI + connections * BACKEND_MEMORY_MI
    return f"{-(-needed // 64) * 64}Mi"


@dataclass(frozen=True)
class Location:
    host: str
    port: int
    database: str
    # "?sslmode=require" etc. of an external server, kept in every URL.
    query: str = ""

    @property
    def options(self) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in self.query.lstrip("?").split("&") if "=" in pair)

    def trusting(self, root_certificate_file: str | None) -> "Location":
        """This location with libpq's sslrootcert set to a file in the pod (None:
        as it is)."""
        if root_certificate_file is None:
            return self
        options = {**self.options, "sslrootcert": root_certificate_file}
        query = "?" + "&".join(f"{key}={value}" for key, value in options.items())
        return dataclasses.replace(self, query=query)

    def url(self, user: str, password: str) -> str:
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{self.database}{self.query}"

    def service_file(self, service: str, user: str, password: str) -> str:
        """A libpq connection service file (pg_service.conf): psql and pg_isready
        read every connection setting, the password included, from it, so
        nothing secret is in their command line or environment."""
        settings = {
            "host": self.host,
            "port": str(self.port),
            "dbname": self.database,
            "user": user,
            "password": password,
        }
        settings.update(self.options)
        return f"[{service}]\n" + "".join(f"{key}={value}\n" for key, value in settings.items())


@dataclass(frozen=True)
class DatabaseEndpoint:
    # An Output[Location]: an external server's comes from its secret URL.
    location: pulumi.Output
    # Secret with `password` and `pg_service.conf` (service ADMIN_SERVICE) of the
    # role the schema Job runs as.
    admin_secret_name: pulumi.Output
    # The schema Job refuses to run as a superuser (an external server: its Secret
    # must not hold a superuser's password).
    refuse_superuser: bool
    # Changes exactly when the database is a new one, which then needs its schema
    # and roles: the StatefulSet's uid in the cluster, the location of an external server.
    identity: pulumi.Output
    # The CA certificate (PEM) an external server's certificate is verified with,
    # when the stack gives one; clients get it as a file.
    root_certificate: str | None = None

    def url_for(
        self, user: str, password: pulumi.Output, root_certificate_file: str
    ) -> pulumi.Output:
        """The URL of `user`, for a client that finds root_certificate at
        root_certificate_file."""
        path = root_certificate_file if self.root_certificate else None
        return pulumi.Output.all(self.location, password).apply(
            lambda values: values[0].trusting(path).url(user, values[1])
        )


ADMIN_SERVICE = "admin"
# Where the schema Job (and the StatefulSet) mount the admin Secret.
ADMIN_SECRET_DIR = "/run/secrets/postgres"  # noqa: S105 (a path)
ROOT_CERTIFICATE_KEY = "root.crt"


def admin_secret(
    name: str,
    namespace,
    location: pulumi.Output,
    user: pulumi.Input[str],
    password: pulumi.Output,
    opts,
    root_certificate: str | None = None,
) -> k8s.core.v1.Secret:
    """The Secret the schema Job connects with; with root_certificate (PEM) beside
    the service file, which names it."""
    path = f"{ADMIN_SECRET_DIR}/{ROOT_CERTIFICATE_KEY}" if root_certificate else None
    service_file = pulumi.Output.all(location, user, password).apply(
        lambda values: values[0].trusting(path).service_file(ADMIN_SERVICE, values[1], values[2])
    )
    data = {"password": password, "pg_service.conf": pulumi.Output.secret(service_file)}
    if root_certificate:
        data[ROOT_CERTIFICATE_KEY] = root_certificate
    return k8s.core.v1.Secret(
        name,
        metadata=pods.metadata(name, namespace),
        type="Opaque",
        string_data=data,
        opts=opts,
    )


@dataclass(frozen=True)
class PostgresArgs:
    namespace: pulumi.Input[str]
    storage: str
    # The same size in bytes.
    storage_bytes: int
    storage_class: str | None
    # The most connections the services open at once (their pods' pools, surge included).
    peak_service_connections: int


class Postgres(pulumi.ComponentResource):
    """StatefulSet (one replica) + headless Service `postgres` + superuser Secret.

    The StatefulSet is protected: its volume template cannot change in place, so a
    change of `postgres_storage` or `storage_class` would delete it and its volume
    (the database) and create both again. Pulumi refuses that instead;
    docs/troubleshooting.md says how to grow the volume or start over on purpose."""

    endpoint: DatabaseEndpoint
    statefulset: k8s.apps.v1.StatefulSet

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("items-audit:database:Postgres", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(
            "postgres-superuser-password", length=32, special=False, opts=child
        )
        location = pulumi.Output.from_input(Location(host=NAME, port=PORT, database=DATABASE_NAME))
        secret = admin_secret(
            ADMIN_SECRET, args.namespace, location, SUPERUSER, password.result, child
        )
        probe_command = [
            "pg_isready",
            "--host=127.0.0.1",
            f"--port={PORT}",
            f"--username={SUPERUSER}",
            f"--dbname={DATABASE_NAME}",
        ]
        connections = max_connections(args.peak_service_connections)
        container = k8s.core.v1.ContainerArgs(
            name="postgres",
            image=POSTGRES_IMAGE,
            image_pull_policy="IfNotPresent",
            args=[
                "postgres",
                "-c",
                f"max_connections={connections}",
                "-c",
                f"max_wal_size={max_wal_size_mb(args.storage_bytes)}MB",
            ],
            ports=[k8s.core.v1.ContainerPortArgs(name="postgres", container_port=PORT)],
            env=[
                k8s.core.v1.EnvVarArgs(name="POSTGRES_DB", value=DATABASE_NAME),
                k8s.core.v1.EnvVarArgs(name="POSTGRES_USER", value=SUPERUSER),
                k8s.core.v1.EnvVarArgs(
                    name="POSTGRES_PASSWORD_FILE", value=f"{ADMIN_SECRET_DIR}/password"
                ),
                # A subdirectory: the volume's root may hold lost+found, which initdb refuses.
                k8s.core.v1.EnvVarArgs(name="PGDATA", value=f"{DATA_DIR}/pgdata"),
            ],
            volume_mounts=[
                pods.mount("data", DATA_DIR, read_only=False),
                pods.mount("run", "/var/run/postgresql", read_only=False),
                pods.tmp_mount(),
                pods.mount("admin-secret", ADMIN_SECRET_DIR),
            ],
            security_context=pods.container_security_context(),
            # Guaranteed on memory (request == limit): under node memory pressure the
            # kubelet evicts pods that use more than they requested first.
            resources=pods.resources(
                "100m", memory_limit(connections), "1", memory_limit(connections)
            ),
            startup_probe=k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=probe_command),
                period_seconds=2,
                failure_threshold=60,
                timeout_seconds=3,
            ),
            readiness_probe=k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=probe_command),
                period_seconds=5,
                failure_threshold=3,
                timeout_seconds=3,
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=probe_command),
                period_seconds=10,
                failure_threshold=6,
                timeout_seconds=5,
            ),
        )
        self.statefulset = k8s.apps.v1.StatefulSet(
            NAME,
            metadata=pods.workload_metadata(NAME, args.namespace),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=NAME,
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=pods.labels(NAME)),
                # The password is applied only when initdb creates the data
                # directory: a volume left behind would keep the old one.
                persistent_volume_claim_retention_policy=k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
                    when_deleted="Delete",
                    when_scaled="Retain",
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(NAME)),
                    spec=pods.pod_spec(
                        [container],
                        [
                            pods.empty_dir("run", "16Mi", memory=True),
                            pods.empty_dir("tmp", "256Mi"),
                            pods.secret_volume("admin-secret", secret.metadata.name),
                        ],
                        # The image's STOPSIGNAL is SIGINT, PostgreSQL's fast shutdown:
                        # open transactions are rolled back, then a checkpoint is written.
                        grace_seconds=60,
                    ),
                ),
                volume_claim_templates=[
                    k8s.core.v1.PersistentVolumeClaimArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(name="data", labels=pods.labels(NAME)),
                        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                            access_modes=["ReadWriteOnce"],
                            storage_class_name=args.storage_class,
                            resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                                requests={"storage": args.storage}
                            ),
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        k8s.core.v1.Service(
            NAME,
            metadata=pods.metadata(NAME, args.namespace),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None",
                selector=pods.labels(NAME),
                ports=[
                    k8s.core.v1.ServicePortArgs(name="postgres", port=PORT, target_port="postgres")
                ],
            ),
            # After the StatefulSet: its readiness wait starts when there are pods.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.statefulset]),
        )
        self.endpoint = DatabaseEndpoint(
            location=location,
            admin_secret_name=secret.metadata.name,
            refuse_superuser=False,
            identity=self.statefulset.metadata.uid,
        )
        self.register_outputs({})


@dataclass(frozen=True)
class ExternalDatabaseArgs:
    namespace: pulumi.Input[str]
    # postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE?sslmode=verify-full... of the
    # migration role (owner of the database, may create roles; not a superuser):
    # the schema Job runs with it.
    url: pulumi.Output
    # Accept a URL that does not verify the server's certificate (the
    # database_allow_unverified_tls setting).
    allow_unverified_tls: bool = False
    # The CA certificate (PEM) that signed the server's (database_ca_certificate).
    root_certificate: str | None = None


# The only libpq sslmode that checks both the server's certificate and its name:
# `prefer` (the default) and `require` encrypt without knowing whom they talk to.
VERIFIED_SSLMODE = "verify-full"


def parse_external_url(url: str, allow_unverified_tls: bool = False) -> tuple[Location, str, str]:
    """The server's location, the user and the password of the migration role's URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.username:
        raise ValueError(
            "database_url must look like postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"
        )
    location = Location(
        host=parts.hostname,
        port=parts.port or PORT,
        database=parts.path.lstrip("/") or DATABASE_NAME,
        query=f"?{parts.query}" if parts.query else "",
    )
    sslmode = location.options.get("sslmode", "prefer (libpq's default)")
    if sslmode != VERIFIED_SSLMODE and not allow_unverified_tls:
        raise ValueError(
            f"database_url has sslmode={sslmode}, which does not verify the database server:"
            f" add sslmode={VERIFIED_SSLMODE} to it (and set database_ca_certificate to the CA"
            " that signed the server's certificate), or set database_allow_unverified_tls to"
            " true to connect without verifying it"
        )
    return location, unquote(parts.username), unquote(parts.password or "")


class ExternalDatabase(pulumi.ComponentResource):
    """No server in the cluster: only the migration role's Secret for the schema Job."""

    endpoint: DatabaseEndpoint

    def __init__(
        self, name: str, args: ExternalDatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:database:ExternalDatabase", name, None, opts)
        parsed = pulumi.Output.secret(args.url).apply(
            lambda url: parse_external_url(url, args.allow_unverified_tls)
        )
        location = parsed.apply(lambda values: values[0])
        user = parsed.apply(lambda values: values[1])
        password = parsed.apply(lambda values: values[2])
        # Named postgres-admin, and holding whatever role database_url named, until
        # the schema Job refused superusers: the alias replaces it by the new name.
        secret = admin_secret(
            MIGRATOR_SECRET,
            args.namespace,
            location,
            user,
            password,
            pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=ADMIN_SECRET)]),
            root_certificate=args.root_certificate,
        )
        self.endpoint = DatabaseEndpoint(
            location=location,
            admin_secret_name=secret.metadata.name,
            refuse_superuser=True,
            root_certificate=args.root_certificate,
            identity=location.apply(lambda where: f"{where.host}:{where.port}/{where.database}"),
        )
        self.register_outputs({})
