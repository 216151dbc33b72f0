"""The Job that migrates the database (database/migrate.sh: schema.sql and the
numbered migrations after it) and sets the service roles' passwords.

Its name carries a hash of everything it applies: the migrations and scripts,
the role passwords, and the identity of the database it initialises. So a new
migration, a new password or a new database (a StatefulSet created again, with
an empty volume) each make a new Job, which runs; when nothing changed, the
finished Job is left alone. A Job that failed is replaced by the next `pulumi
up` (`pulumi.com/replaceUnready`), so a fixed migration is retried.
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
RETENTION_ROLE = "audit_retention"
SCRIPTS_DIR = "/schema"
# Covers a first start of PostgreSQL, image pull included.
DEADLINE_SECONDS = 900
# Pulumi waits for the Job to complete; its own 10-minute default is shorter
# than the Job's deadline, so it would give up on a Job that still succeeds.
AWAIT_TIMEOUT = f"{DEADLINE_SECONDS // 60 + 5}m"

# Runs in the pinned postgres image (psql, pg_isready). Every connection setting,
# the password included, comes from the mounted service file. Against an external
# server (REFUSE_SUPERUSER=true) it refuses a superuser: that role's password
# would stay in the cluster's Secret long after the Job, for anyone who can read it.
APPLY_SCRIPT = f"""\
set -eu
until pg_isready --quiet --timeout=5; do
  echo "waiting for PostgreSQL to accept connections"
  sleep 2
done
if [ "${{REFUSE_SUPERUSER:-false}}" = true ]; then
  superuser="$(psql --no-psqlrc --tuples-only --no-align --file={SCRIPTS_DIR}/is-superuser.sql)"
  if [ "${{superuser}}" = t ]; then
    echo "schema: database_url names a superuser, whose password would stay in the cluster." >&2
    echo "schema: give a migration role's URL (database owner, CREATEROLE, not SUPERUSER)." >&2
    exit 1
  fi
fi
sh {SCRIPTS_DIR}/migrate.sh {SCRIPTS_DIR}
psql --no-psqlrc --set=ON_ERROR_STOP=1 --single-transaction --file={SCRIPTS_DIR}/set-passwords.sql
echo "schema up to date; role passwords set"
"""

# psql reads each password from its mounted file into a variable and quotes it
# as a literal (:'name'), so no password is on a command line. Two Jobs altering
# a role at once would fail ("tuple concurrently updated"): migrate.sh's lock.
SET_PASSWORDS_SQL = f"""\
SELECT pg_advisory_xact_lock(hashtext('schema_migrations')) \\gset
\\set items_password `cat /run/secrets/roles/items-password`
\\set audit_password `cat /run/secrets/roles/audit-password`
\\set retention_password `cat /run/secrets/roles/retention-password`
ALTER ROLE {ITEMS_ROLE} WITH LOGIN PASSWORD :'items_password';
ALTER ROLE {AUDIT_ROLE} WITH LOGIN PASSWORD :'audit_password';
ALTER ROLE {RETENTION_ROLE} WITH LOGIN PASSWORD :'retention_password';
"""


IS_SUPERUSER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user;\n"


def scripts(migrations: dict[str, str]) -> dict[str, str]:
    """The Job's files: the migrations with their runner (database/), and its own."""
    return {
        **migrations,
        "apply.sh": APPLY_SCRIPT,
        "is-superuser.sql": IS_SUPERUSER_SQL,
        "set-passwords.sql": SET_PASSWORDS_SQL,
    }


def job_name(files: dict[str, str], roles: dict[str, str], database_identity: str) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(files.items()) + sorted(roles.items()):
        digest.update(f"{name}\0{text}\0".encode())
    digest.update(database_identity.encode())
    return f"{NAME}-{digest.hexdigest()[:10]}"


@dataclass(frozen=True)
class SchemaJobArgs:
    namespace: pulumi.Input[str]
    # database/ as the Job applies it: schema.sql, NNNN_*.sql and migrate.sh, by file name.
    migrations: dict[str, str]
    endpoint: database.DatabaseEndpoint
    items_password: pulumi.Output
    audit_password: pulumi.Output
    retention_password: pulumi.Output
    # The database server: the Job starts once it exists, then waits for connections.
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class SchemaJob(pulumi.ComponentResource):
    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: SchemaJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("items-audit:database:SchemaJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        roles_data = {
            "items-password": args.items_password,
            "audit-password": args.audit_password,
            "retention-password": args.retention_password,
        }
        roles = k8s.core.v1.Secret(
            ROLES_SECRET,
            metadata=pods.metadata(ROLES_SECRET, args.namespace),
            type="Opaque",
            string_data=roles_data,
            opts=child,
        )
        files = scripts(args.migrations)
        # A hash of the passwords reveals nothing of 32 random characters: unsecret,
        # so that the Job's name shows in previews.
        run_name = pulumi.Output.unsecret(
            pulumi.Output.all(pulumi.Output.all(**roles_data), args.endpoint.identity).apply(
                lambda values: job_name(files, values[0], values[1])
            )
        )
        config_map = k8s.core.v1.ConfigMap(
            NAME,
            metadata=pods.metadata(run_name, args.namespace, app=NAME),
            immutable=True,
            data=files,
            opts=child,
        )
        container = k8s.core.v1.ContainerArgs(
            name="apply-schema",
            image=database.POSTGRES_IMAGE,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/apply.sh"],
            env=[
                k8s.core.v1.EnvVarArgs(
                    name="PGSERVICEFILE", value=f"{database.ADMIN_SECRET_DIR}/pg_service.conf"
                ),
                k8s.core.v1.EnvVarArgs(name="PGSERVICE", value=database.ADMIN_SERVICE),
                k8s.core.v1.EnvVarArgs(name="PGCONNECT_TIMEOUT", value="5"),
                k8s.core.v1.EnvVarArgs(
                    name="REFUSE_SUPERUSER", value=str(args.endpoint.refuse_superuser).lower()
                ),
            ],
            volume_mounts=[
                pods.mount("schema", SCRIPTS_DIR),
                pods.mount("admin-secret", database.ADMIN_SECRET_DIR),
                pods.mount("roles-secret", "/run/secrets/roles"),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("50m", "64Mi", "500m", "128Mi"),
        )
        self.job = k8s.batch.v1.Job(
            NAME,
            metadata=pods.metadata(
                run_name,
                args.namespace,
                annotations={"pulumi.com/replaceUnready": "true"},
                app=NAME,
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                active_deadline_seconds=DEADLINE_SECONDS,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(NAME)),
                    spec=pods.pod_spec(
                        [container],
                        [
                            pods.config_map_volume("schema", config_map.metadata.name),
                            pods.secret_volume("admin-secret", args.endpoint.admin_secret_name),
                            pods.secret_volume("roles-secret", roles.metadata.name),
                            pods.empty_dir("tmp"),
                        ],
                        restart_policy="Never",
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.depends_on,
                custom_timeouts=pulumi.CustomTimeouts(create=AWAIT_TIMEOUT, update=AWAIT_TIMEOUT),
            ),
        )
        self.register_outputs({"name": self.job.metadata.name})
