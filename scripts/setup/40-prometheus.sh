#!/usr/bin/env bash
# The monitoring tests need Debian's prometheus and promtool binaries. The package's
# service is never started: the tests run their own server on loopback.
set -euo pipefail
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
