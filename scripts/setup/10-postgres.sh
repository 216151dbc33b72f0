#!/usr/bin/env bash
# The service and integration tests need a PostgreSQL server on 127.0.0.1:5432 (PGPORT)
# that accepts the postgres user without a password (trust auth), as on the CI
# machine. When none is installed, Debian's is installed and configured so. A
# server of Debian's that is installed but stopped (some machine images ship
# one) is started, and configured so too if it refuses the postgres user; its
# original pg_hba.conf is kept beside it. A running server is never changed.
# With PGPORT set (the container scripts/test-in-container runs the suite in: the
# host's server may hold 5432 there), the stopped server is configured for that port.
set -euo pipefail
port="${PGPORT:-5432}"

ready() { pg_isready -q -h 127.0.0.1 -p "${port}" 2>/dev/null; }
lets_postgres_in() { psql -h 127.0.0.1 -p "${port}" -U postgres -d postgres -w -qAtc 'SELECT 1' >/dev/null 2>&1; }
trust_loopback() {
  local hba="$1"
  if [[ ! -f "${hba}.before-items-audit" ]]; then
    cp -p "${hba}" "${hba}.before-items-audit"
  fi
  sed -ri 's/^(local|host)(\s+.*\s+)(peer|md5|scram-sha-256)$/\1\2trust/' "${hba}"
}

if ready; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "Installing PostgreSQL from Debian (trust auth on loopback, for tests only)"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq postgresql >/dev/null
fi
version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)"
hba="/etc/postgresql/${version}/main/pg_hba.conf"
if ! grep -Eq '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "${hba}"; then
  echo "PostgreSQL ${version} is stopped and asks for passwords: trust auth on loopback (the original: ${hba}.before-items-audit)"
  trust_loopback "${hba}"
fi
conf="/etc/postgresql/${version}/main/postgresql.conf"
if ! grep -Eq "^port = ${port}([^0-9]|$)" "${conf}"; then
  if pg_ctlcluster --skip-systemctl-redirect "${version}" main status >/dev/null 2>&1; then
    echo "PostgreSQL ${version} runs on another port than PGPORT=${port}: unset PGPORT, or stop it and retry." >&2
    exit 1
  fi
  sed -ri "s/^#?port = [0-9]+/port = ${port}/" "${conf}"
fi
pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
for _ in $(seq 1 30); do
  if ready && lets_postgres_in; then
    exit 0
  fi
  sleep 1
done
echo "PostgreSQL is not reachable on 127.0.0.1:${port} as user postgres without a password; start it (trust auth for user postgres on loopback) and retry." >&2
exit 1
