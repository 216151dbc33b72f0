#!/usr/bin/env bash
# kube-score, the second outside validator of the rendered manifests (beside checkov;
# tests/infra/test_infra_manifests.py), built with `go install` from its Go module and cached
# outside the repository, in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/kube-score/<version>/kube-score
# Built once (a few minutes on 2 cores); later runs find the cache.
set -euo pipefail
# renovate: datasource=go depName=github.com/zegl/kube-score
version=v1.20.0

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/kube-score"
target="${cache_root}/${version}"
built() { [[ -x "${target}/kube-score" ]]; }
if built; then
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "55-kube-score.sh: Go is needed to build kube-score ${version}" >&2
  exit 1
fi
mkdir -p "${cache_root}"
# Several test runs may start at once; one of them builds, the others wait.
exec 9>"${cache_root}/.lock"
flock 9
if built; then
  exit 0
fi

log="${cache_root}/build-${version}.log"
staging="$(mktemp -d "${cache_root}/.build.XXXXXX")"
trap 'rm -rf "${staging}"' EXIT
echo "Building kube-score ${version} (a few minutes, once; log: ${log})"
if ! CGO_ENABLED=0 GOBIN="${staging}" go install -p 2 -trimpath -ldflags "-s -w -X main.version=${version#v}" \
  "github.com/zegl/kube-score/cmd/kube-score@${version}" >"${log}" 2>&1; then
  echo "55-kube-score.sh: building kube-score ${version} failed; the build log ${log} ends:" >&2
  tail -n 20 "${log}" >&2
  exit 1
fi
"${staging}/kube-score" version >>"${log}" 2>&1
chmod 755 "${staging}"
rm -rf "${target}"
mv "${staging}" "${target}"
trap - EXIT
echo "kube-score ${version} built in ${target}"
