#!/usr/bin/env bash
# The postgres stand-in's entrypoint: the official image's contract, as far as the
# program (infra/database.py, the StatefulSet) and a `docker run` user rely on it:
#   - `postgres ARGS...` (or only `-flags`, given to postgres): on a PGDATA without
#     PG_VERSION, initdb as the superuser POSTGRES_USER (default postgres) with
#     POSTGRES_PASSWORD (or the file POSTGRES_PASSWORD_FILE; required unless
#     POSTGRES_HOST_AUTH_METHOD=trust), `host all all all <method>` appended to
#     pg_hba.conf (scram-sha-256 unless POSTGRES_HOST_AUTH_METHOD says otherwise),
#     then a temporary server on the unix socket only, with the same ARGS, creates
#     POSTGRES_DB (default: POSTGRES_USER) and runs /docker-entrypoint-initdb.d/*;
#     then `exec postgres ARGS...`;
#   - a uid with no passwd entry (the pod's runAsUser) initialises through
#     nss_wrapper, as the official image does;
#   - started as root: the directories are given to postgres and the script runs
#     again as postgres;
#   - POSTGRES_USER, POSTGRES_DB, POSTGRES_INITDB_ARGS accept a _FILE variant too;
#   - any other command is executed as it is.
# Differs from the official script: written anew (not a copy); root steps down with
# util-linux's setpriv instead of gosu; /docker-entrypoint-initdb.d takes *.sh, *.sql
# and *.sql.gz (not .xz/.zst); POSTGRES_INITDB_WALDIR is not supported; there is no
# docker-ensure-initdb.sh.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR from itself, else from the file named by VAR_FILE.
file_env() {
  local var="$1" default="${2:-}" file_var="${1}_FILE"
  if [[ -n "${!var:-}" && -n "${!file_var:-}" ]]; then
    echo "error: both ${var} and ${file_var} are set (but are exclusive)" >&2
    exit 1
  fi
  local value="${default}"
  if [[ -n "${!var:-}" ]]; then
    value="${!var}"
  elif [[ -n "${!file_var:-}" ]]; then
    value="$(<"${!file_var}")"
  fi
  export "${var}=${value}"
  unset "${file_var}"
}

# postgres asked for help or a setting only: no initialisation.
wants_help() {
  local arg
  for arg; do
    case "${arg}" in
      '-?' | --help | --describe-config | -V | --version | -C) return 0 ;;
    esac
  done
  return 1
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "${POSTGRES_USER}"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  DATABASE_ALREADY_EXISTS=
  if [[ -s "${PGDATA}/PG_VERSION" ]]; then
    DATABASE_ALREADY_EXISTS=true
  fi
}

create_directories() {
  mkdir -p "${PGDATA}"
  # Not the owner (a volume's root, an emptyDir): leave the mode as it is.
  chmod 00700 "${PGDATA}" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [[ "$(id -u)" == 0 ]]; then
    find "${PGDATA}" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_minimum_env() {
  if [[ -z "${POSTGRES_PASSWORD}" && "${POSTGRES_HOST_AUTH_METHOD}" != trust ]]; then
    cat >&2 <<'EOE'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the
       superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow every connection
       without a password (not recommended).
EOE
    exit 1
  fi
}

init_database_dir() {
  # initdb needs a user name for the uid it runs as.
  local wrapped=false
  if ! getent passwd "$(id -u)" >/dev/null; then
    local lib
    for lib in /usr/lib/libnss_wrapper.so /usr/lib/*/libnss_wrapper.so; do
      [[ -s "${lib}" ]] || continue
      NSS_WRAPPER_PASSWD="$(mktemp)"
      NSS_WRAPPER_GROUP="$(mktemp)"
      export LD_PRELOAD="${lib}" NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
      echo "postgres:x:$(id -u):$(id -g):PostgreSQL:${PGDATA}:/bin/false" >"${NSS_WRAPPER_PASSWD}"
      echo "postgres:x:$(id -g):" >"${NSS_WRAPPER_GROUP}"
      wrapped=true
      break
    done
  fi
  # POSTGRES_INITDB_ARGS is a string of arguments, split as the shell would.
  eval 'initdb --username="${POSTGRES_USER}" --pwfile=<(printf "%s\n" "${POSTGRES_PASSWORD}") '"${POSTGRES_INITDB_ARGS}"
  if [[ "${wrapped}" == true ]]; then
    rm -f "${NSS_WRAPPER_PASSWD}" "${NSS_WRAPPER_GROUP}"
    unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
  fi
}

# setup_hba_conf POSTGRES_ARGS...: network connections with a password.
setup_hba_conf() {
  local auth="${POSTGRES_HOST_AUTH_METHOD}"
  if [[ -z "${auth}" ]]; then
    auth="$(postgres -C password_encryption "$@")"
  fi
  {
    printf '\n'
    if [[ "${auth}" == trust ]]; then
      printf '# warning trust is enabled for all connections\n'
    fi
    printf 'host all all all %s\n' "${auth}"
  } >>"${PGDATA}/pg_hba.conf"
}

# On the temporary server's unix socket, whatever PGHOST the environment names.
psql_superuser() {
  PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --no-password --no-psqlrc "$@"
}

process_sql() {
  psql_superuser --dbname "${POSTGRES_DB}" "$@"
}

# temp_server_start POSTGRES_ARGS...: reachable on the unix socket only.
temp_server_start() {
  set -- "$@" -c "listen_addresses=" -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-${POSTGRES_USER}}" pg_ctl -D "${PGDATA}" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "${PGDATA}" -m fast -w stop
}

setup_db() {
  local exists
  exists="$(psql_superuser --dbname postgres --set db="${POSTGRES_DB}" --tuples-only <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)"
  if [[ -z "${exists//[[:space:]]/}" ]]; then
    psql_superuser --dbname postgres --set db="${POSTGRES_DB}" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
}

process_init_files() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "${f}" ]] || continue
    case "${f}" in
      *.sh)
        if [[ -x "${f}" ]]; then
          echo "$0: running ${f}"
          "${f}"
        else
          echo "$0: sourcing ${f}"
          # shellcheck disable=SC1090 # the initialisation scripts are the user's
          . "${f}"
        fi
        ;;
      *.sql) echo "$0: running ${f}"; process_sql -f "${f}" ;;
      *.sql.gz) echo "$0: running ${f}"; gunzip -c "${f}" | process_sql ;;
      *) echo "$0: ignoring ${f}" ;;
    esac
  done
}

main() {
  if [[ "${1:-}" == -* ]]; then
    set -- postgres "$@"
  fi
  if [[ "${1:-}" == postgres ]] && ! wants_help "$@"; then
    setup_env
    create_directories
    if [[ "$(id -u)" == 0 ]]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ -z "${DATABASE_ALREADY_EXISTS}" ]]; then
      verify_minimum_env
      # Fails early when the initialisation scripts cannot be read.
      ls /docker-entrypoint-initdb.d/ >/dev/null
      init_database_dir
      setup_hba_conf "${@:2}"
      export PGPASSWORD="${PGPASSWORD:-${POSTGRES_PASSWORD}}"
      temp_server_start "${@:2}"
      setup_db
      process_init_files
      temp_server_stop
      unset PGPASSWORD
      echo
      echo 'PostgreSQL init process complete; ready for start up.'
      echo
    else
      echo
      echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
      echo
    fi
  fi
  exec "$@"
}

main "$@"
