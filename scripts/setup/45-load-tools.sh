#!/usr/bin/env bash
# The benchmarks (bench/) drive the services with wrk, Debian's HTTP load generator.
set -euo pipefail
if command -v wrk >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends wrk >/dev/null
