#!/usr/bin/env bash
# The service and integration tests need a PostgreSQL server on 127.0.0.1:5432
# that accepts the postgres user without a password (trust auth), as on the CI machine.
set -euo pipefail
if pg_isready -q -h 127.0.0.1 -p 5432; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null; then
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  pg_ctlcluster --skip-systemctl-redirect "${version}" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
  sleep 1
done
echo "PostgreSQL is not reachable on 127.0.0.1:5432; start it (trust auth for user postgres) and retry." >&2
exit 1
