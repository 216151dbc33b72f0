#!/usr/bin/env bash
# The official python image cannot be pulled here (no registry), so the container
# tests build the Dockerfiles on a stand-in base made from Debian packages:
# a minimal bookworm with python3 and python3-venv, imported into Docker.
# Built once (about a minute) and reused while the image exists.
set -euo pipefail
# The tests pass this name as the Dockerfiles' PYTHON_IMAGE build argument.
# Bump the tag when the recipe below changes.
image="items-audit-test/debian-python:bookworm-1"

if docker image inspect "${image}" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# The Debian mirror this machine's apt already uses (deb822 or one-line format).
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 || true)"
if [[ -z "${mirror}" ]]; then
  mirror="$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs="$(mktemp -d /var/tmp/debian-python-rootfs.XXXXXX)"
log="${rootfs}.log"
trap 'rm -rf "${rootfs}" "${log}"' EXIT
echo "building ${image} with debootstrap from ${mirror}"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "${rootfs}" "${mirror}" >"${log}" 2>&1 || {
  tail -n 20 "${log}" >&2
  exit 1
}
# pip inside `docker build` must trust whatever CA this machine trusts for PyPI.
cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/ca-certificates.crt"
rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
tar -C "${rootfs}" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  - "${image}" >/dev/null
echo "built ${image}"
