#!/bin/sh
# Brings a database's schema up to date: database/schema.sql is migration 0001,
# and every later change is a file NNNN_description.sql beside it (0002, 0003, ...).
# Each is applied once, in order, in a transaction of its own, and recorded in
# the table schema_migrations with its SHA-256; a migration that was changed
# after it was applied stops the run (put the change in a new migration).
#
# Usage: migrate.sh [DIRECTORY]   (default: the directory this script is in)
# psql connects as libpq's environment says (PGHOST, PGDATABASE, ... or PGSERVICE),
# as a role that may create tables and roles. Safe to run concurrently: an
# advisory lock serialises the runs. POSIX sh and psql only, so it runs in the
# postgres image (the schema Job) as well as on a laptop.
set -eu

directory="${1:-$(dirname "$0")}"

run_psql() {
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
    psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 "$@"
}

# Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: under the lock too.
run_psql --single-transaction --file=- <<'SQL'
SELECT pg_advisory_xact_lock(hashtext('schema_migrations')) \gset
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    file       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
SQL

for file in "${directory}/schema.sql" "${directory}"/[0-9][0-9][0-9][0-9]_*.sql; do
  [ -f "${file}" ] || continue
  name="$(basename "${file}")"
  case "${name}" in
    schema.sql) version=0001 ;;
    *) version="${name%%_*}" ;;
  esac
  checksum="$(sha256sum "${file}" | cut -d ' ' -f 1)"
  applied="$(run_psql --tuples-only --no-align --set=version="${version}" <<'SQL'
SELECT sha256 FROM schema_migrations WHERE version = :'version';
SQL
)"
  if [ -n "${applied}" ]; then
    if [ "${applied}" != "${checksum}" ]; then
      echo "migrate: ${name} (migration ${version}) was changed after it was applied to this database; put the change in a new migration instead" >&2
      exit 1
    fi
    continue
  fi
  # The lock, the migration and its record commit together: a concurrent run
  # waits, then finds the record and applies nothing.
  run_psql --single-transaction --file=- \
    --set=version="${version}" --set=name="${name}" --set=checksum="${checksum}" \
    --set=path="${file}" <<'SQL'
SELECT pg_advisory_xact_lock(hashtext('schema_migrations')) \gset
SELECT EXISTS (SELECT FROM schema_migrations WHERE version = :'version') AS already_applied \gset
\if :already_applied
\else
\i :path
INSERT INTO schema_migrations (version, file, sha256) VALUES (:'version', :'name', :'checksum');
\echo applied migration :version (:name)
\endif
SQL
done
