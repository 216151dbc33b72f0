#!/usr/bin/env bash
# The container tests need a running Docker engine. On a fresh Debian machine:
# install Debian's engine (dockerd refuses to start without iptables) and start
# dockerd in the background, logging to a file, then wait until it answers.
set -euo pipefail
log=/var/log/dockerd-tests.log

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "starting dockerd (log: ${log})"
  # setsid: the engine outlives this script and the test run that started it.
  setsid nohup dockerd >"${log}" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "the Docker engine did not answer within 60 s; see ${log}:" >&2
tail -n 20 "${log}" >&2
exit 1
