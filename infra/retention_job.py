"""The CronJob that enforces the audit trail's retention (DESIGN §4): every hour
it deletes the audit_logs rows stored more than `audit_retention_days` ago.

It logs in as audit_retention, a role that may only call
audit_logs_delete_expired (database/0002_audit_retention.sql): it cannot read
or write the trail, nor delete anything younger than a day. Hourly runs keep
each run to an hour's worth of rows; each batch is its own short transaction.
"""

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra import database, pods
from infra.schema_job import RETENTION_ROLE

NAME = "audit-retention"  # the CronJob, its Secret and ConfigMap, and the pods' label
SERVICE = "retention"  # the connection service in its pg_service.conf
SCRIPTS_DIR = "/retention"
# At minute 17: away from the top of the hour, when other clusters' jobs crowd.
SCHEDULE = "17 * * * *"
BATCH_SIZE = 5000
# An hour's rows take seconds; a run still going after this is stuck on a lock.
DEADLINE_SECONDS = 1800

# Runs in the pinned postgres image. Every connection setting, the password
# included, comes from the mounted service file.
DELETE_SCRIPT = """\
set -eu
total=0
while :; do
  deleted="$(psql --no-psqlrc --quiet --tuples-only --no-align --set=ON_ERROR_STOP=1 \\
    --set=days="${AUDIT_RETENTION_DAYS}" --set=batch="${BATCH_SIZE}" --file=- <<'SQL'
SELECT audit_logs_delete_expired(make_interval(days => :'days'::integer), :'batch'::integer);
SQL
)"
  total=$((total + deleted))
  [ "${deleted}" -gt 0 ] || break
done
echo "audit retention: deleted ${total} audit_logs rows" \\
  "stored more than ${AUDIT_RETENTION_DAYS} days ago"
"""


@dataclass(frozen=True)
class RetentionJobArgs:
    namespace: pulumi.Input[str]
    endpoint: database.DatabaseEndpoint
    password: pulumi.Output
    retention_days: int
    # The schema Job: the role and its function exist once it has completed.
    depends_on: list[pulumi.Resource]


class RetentionJob(pulumi.ComponentResource):
    cron_job: k8s.batch.v1.CronJob

    def __init__(
        self, name: str, args: RetentionJobArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("items-audit:database:RetentionJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # An external server's CA certificate, when the stack gives one, beside the
        # service file that names it.
        certificate = args.endpoint.root_certificate
        certificate_file = (
            f"{database.ADMIN_SECRET_DIR}/{database.ROOT_CERTIFICATE_KEY}" if certificate else None
        )
        service_file = pulumi.Output.all(args.endpoint.location, args.password).apply(
            lambda values: (
                values[0]
                .trusting(certificate_file)
                .service_file(SERVICE, RETENTION_ROLE, values[1])
            )
        )
        secret_data = {"pg_service.conf": pulumi.Output.secret(service_file)}
        if certificate:
            secret_data[database.ROOT_CERTIFICATE_KEY] = certificate
        secret = k8s.core.v1.Secret(
            NAME,
            metadata=pods.metadata(f"{NAME}-db", args.namespace, app=NAME),
            type="Opaque",
            string_data=secret_data,
            opts=child,
        )
        scripts = pods.config_map(NAME, args.namespace, {"delete-expired.sh": DELETE_SCRIPT}, child)
        container = k8s.core.v1.ContainerArgs(
            name="delete-expired",
            image=database.POSTGRES_IMAGE,
            image_pull_policy="IfNotPresent",
            command=["sh", f"{SCRIPTS_DIR}/delete-expired.sh"],
            env=[
                k8s.core.v1.EnvVarArgs(
                    name="PGSERVICEFILE", value=f"{database.ADMIN_SECRET_DIR}/pg_service.conf"
                ),
                k8s.core.v1.EnvVarArgs(name="PGSERVICE", value=SERVICE),
                k8s.core.v1.EnvVarArgs(name="PGCONNECT_TIMEOUT", value="10"),
                k8s.core.v1.EnvVarArgs(name="AUDIT_RETENTION_DAYS", value=str(args.retention_days)),
                k8s.core.v1.EnvVarArgs(name="BATCH_SIZE", value=str(BATCH_SIZE)),
            ],
            volume_mounts=[
                pods.mount("scripts", SCRIPTS_DIR),
                pods.mount("database-secret", database.ADMIN_SECRET_DIR),
                pods.tmp_mount(),
            ],
            security_context=pods.container_security_context(),
            resources=pods.resources("10m", "32Mi", "200m", "64Mi"),
        )
        self.cron_job = k8s.batch.v1.CronJob(
            NAME,
            metadata=pods.workload_metadata(NAME, args.namespace),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=SCHEDULE,
                time_zone="Etc/UTC",
                # A run that overlaps the next is stuck: never stack a second on it.
                concurrency_policy="Forbid",
                # A run missed by more than half an hour waits for the next hour.
                starting_deadline_seconds=1800,
                successful_jobs_history_limit=1,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(NAME)),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=2,
                        active_deadline_seconds=DEADLINE_SECONDS,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=pods.labels(NAME)),
                            spec=pods.pod_spec(
                                [container],
                                [
                                    pods.config_map_volume("scripts", scripts.metadata.name),
                                    pods.secret_volume("database-secret", secret.metadata.name),
                                    pods.empty_dir("tmp", "16Mi"),
                                ],
                                restart_policy="Never",
                            ),
                        ),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
        )
        self.register_outputs({})
