#!/usr/bin/env bash
# The items pod's proxy (items-proxy/nginx.conf) runs in the integration and
# reliability tiers as the real nginx: Debian's nginx-light. Installed without
# starting Debian's own nginx service (a policy-rc.d refuses service starts while
# apt runs; one that already exists is left as it is).
set -euo pipefail

if command -v nginx >/dev/null; then
  exit 0
fi
created_policy=false
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=true
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends nginx-light >/dev/null
if [[ "${created_policy}" == true ]]; then
  rm -f /usr/sbin/policy-rc.d
fi
