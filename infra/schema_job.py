"""The Job that applies database/schema.sql and sets the service roles' passwords.

Its name carries a hash of what it runs, so a changed schema.sql makes a new
Job (which runs) and an unchanged one leaves the finished Job alone.
"""

import hashlib
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from infra import database, pods

NAME = "postgres-schema"  # the pods' app.kubernetes.io/name
ROLES_SECRET = "database-roles"  # noqa: S105 (the Secret's name)
ITEMS_ROLE = "items_service"
AUDIT_ROLE = "audit_service"

# Runs in the pinned postgres image (psql, pg_isready). Every connection setting,
# the superuser's password included, comes from the mounted service file.
APPLY_SCRIPT = """\
set -eu
until pg_isready --quiet --timeout=5; do
  echo "waiting for PostgreSQL to accept connections"
  sleep 2
done
psql --no-psqlrc --set=ON_ERROR_STOP=1 --single-transaction --file=/schema/schema.sql
psql --no-psqlrc --set=ON_ERROR_STOP=1 --single-transaction --file=/schema/set-passwords.sql
echo "schema applied; role passwords set"
"""

# psql reads each password from its mounted file into a variable and quotes it
# as a literal (:'name'), so no password is on a command line.
SET_PASSWORDS_SQL = f"""\
\\set items_password `cat /run/secrets/roles/items-password`
\\set audit_password `cat /run/secrets/roles/audit-password`
ALTER ROLE {ITEMS_ROLE} WITH LOGIN PASSWORD :'items_password';
ALTER ROLE {AUDIT_ROLE} WITH LOGIN PASSWORD :'audit_password';
"""


def job_name(schema_sql: str) -> str:
    digest = hashlib.sha256()
    for part in (schema_sql, SET_PASSWORDS_SQL, APPLY_SCRIPT):
        digest.update(part.encode() + b"\0")
    return f"{NAME}-{digest.hexdigest()[:10]}"


@dataclass(frozen=True)
class SchemaJobArgs:
    namespace: pulumi.Input[str]
    schema_sql: str
    endpoint: database.DatabaseEndpoint
    items_password: pulumi.Output
    audit_password: pulumi.Output
    # The database server: the Job starts once it exists, then waits for connections.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class SchemaJob(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: SchemaJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("items-audit:database:SchemaJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        run_name = job_name(args.schema_sql)
        roles = k8s.core.v1.Secret(
            ROLES_SECRET,
            metadata=pods.metadata(ROLES_SECRET, args.namespace),
            type="Opaque",
            string_data={
                "items-password": args.items_password,
                "audit-password": args.audit_password,
            },
            opts=child,
        )
        scripts = k8s.core.v1.ConfigMap(
            NAME,
            metadata=pods.metadata(run_name, args.namespace, app=NAME),
            immutable=True,
            data={
                "schema.sql": args.schema_sql,
                "set-passwords.sql": SET_PASSWORDS_SQL,
                "apply.sh": APPLY_SCRIPT,
            },
            opts=child,
        )
        container = k8s.core.v1.ContainerArgs(
            name="apply-schema",
            image=database.POSTGRES_IMAGE,
            image_pull_policy="IfNotPresent",
            command=["sh", "/schema/apply.sh"],
            env=[
                k8s.core.v1.EnvVarArgs(
                    name="PGSERVICEFILE", value="/run/secrets/postgres/pg_service.conf"
                ),
                k8s.core.v1.EnvVarArgs(name="PGSERVICE", value=database.ADMIN_SERVICE),
                k8s.core.v1.EnvVarArgs(name="PGCONNECT_TIMEOUT", value="5"),
            ],
            volume_mounts=[
                pods.mount("schema", "/schema"),
                pods.mount("admin-secret", "/run/secrets/postgres"),
                pods.mount("roles-secret", "/run/secrets/roles"),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("50m", "64Mi", "500m", "128Mi"),
        )
        self.job = k8s.batch.v1.Job(
            NAME,
            metadata=pods.metadata(run_name, args.namespace, app=NAME),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                # Covers a first start of PostgreSQL, image pull included.
                active_deadline_seconds=900,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(NAME)),
                    spec=pods.pod_spec(
                        [container],
                        [
                            pods.config_map_volume("schema", scripts.metadata.name),
                            pods.secret_volume("admin-secret", args.endpoint.admin_secret_name),
                            pods.secret_volume("roles-secret", roles.metadata.name),
                            pods.empty_dir("tmp"),
                        ],
                        restart_policy="Never",
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.register_outputs({"name": self.job.metadata.name})
