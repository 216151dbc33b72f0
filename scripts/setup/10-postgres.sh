#!/usr/bin/env bash
# The service and integration tests need a PostgreSQL server on 127.0.0.1:5432
# that accepts the postgres user without a password (trust auth), as on the CI
# machine. When none is installed, Debian's is installed and configured so;
# an existing server's authentication is never changed.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ready; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null; then
  echo "Installing PostgreSQL from Debian (trust auth on loopback, for tests only)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  hba="/etc/postgresql/${version}/main/pg_hba.conf"
  sed -ri 's/^(local|host)(\s+.*\s+)(peer|md5|scram-sha-256)$/\1\2trust/' "${hba}"
fi
version="$(ls /etc/postgresql | sort -V | tail -1)"
pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
for _ in $(seq 1 30); do
  ready && exit 0
  sleep 1
done
echo "PostgreSQL is not reachable on 127.0.0.1:5432; start it (trust auth for user postgres) and retry." >&2
exit 1
