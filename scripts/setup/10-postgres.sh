#!/usr/bin/env bash
# The tests start a PostgreSQL server of their own (tests/support/postgres_server.py:
# a temporary data directory, a free loopback port, trust auth, stopped at the end),
# from Debian's binaries, which this installs when they are missing. A server the
# machine already has, running or not, is neither used nor changed.
set -euo pipefail

if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && command -v psql >/dev/null; then
  exit 0
fi
echo "Installing PostgreSQL from Debian (the tests run their own server from its binaries)"
# Debian's package would create and start a cluster of its own on 5432: the tests need
# only the binaries, so no cluster is created.
mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/items-audit-tests.conf
apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq postgresql >/dev/null
