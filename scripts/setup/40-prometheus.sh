#!/usr/bin/env bash
# prometheus and promtool of the release the cluster runs (the prom/prometheus image that
# infra/ pins), built from that release's Go module and cached outside the repository, in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/prometheus/<version>/
# The first run downloads about 1.4 GB of modules and compiles (about 10 minutes on 2 idle
# cores); later runs find the cache.
# The web UI is left out (it needs a Node.js build): the tests use the HTTP API only.
set -euo pipefail
cd "$(dirname "$0")/../.."
image_tags="$(grep -rhoE --include='*.py' 'prom/prometheus:v[0-9]+\.[0-9]+\.[0-9]+@' infra/ | sort -u)"
if [[ "$(wc -l <<<"${image_tags}")" != 1 || -z "${image_tags}" ]]; then
  echo "40-prometheus.sh: expected one prom/prometheus:vX.Y.Z@sha256 pin in infra/, found: ${image_tags:-none}" >&2
  exit 1
fi
version="${image_tags#prom/prometheus:v}"
version="${version%@}"
IFS=. read -r major minor patch <<<"${version}"
module=github.com/prometheus/prometheus
# Prometheus publishes release v3.M.P as Go module version v0.3MM.P.
module_version="$(printf 'v0.%d%02d.%d' "${major}" "${minor}" "${patch}")"

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/prometheus"
target="${cache_root}/${version}"
built() { [[ -x "${target}/prometheus" && -x "${target}/promtool" ]]; }
if built; then
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "40-prometheus.sh: Go 1.23 or newer is needed to build Prometheus ${version}" >&2
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
# The build's output goes to its log; a failure says where it is, and how it ends, on
# the setup's stderr.
exec 3>&2
build_failed() {
  echo "40-prometheus.sh: building Prometheus ${version} (${module}@${module_version}) failed; the build log is ${log}, ending:" >&3
  tail -n 20 "${log}" >&3
}
trap build_failed ERR
echo "Building Prometheus ${version} from ${module}@${module_version} (about 10 minutes, once)"
{
  go mod download "${module}@${module_version}"
  source_dir="$(go env GOMODCACHE)/${module}@${module_version}"
  echo "${module}@${module_version} is release $(cat "${source_dir}/VERSION"), expected ${version}"
  [[ "$(cat "${source_dir}/VERSION")" == "${version}" ]]
  # Built as its own main module, so that its go.mod (and its replace directives) apply
  # exactly as in the upstream build; the module cache is read-only, the output goes elsewhere.
  cd "${source_dir}"
  CGO_ENABLED=0 go build -p 2 -trimpath \
    -ldflags "-s -w
      -X github.com/prometheus/common/version.Version=${version}
      -X github.com/prometheus/common/version.Revision=${module_version}
      -X github.com/prometheus/common/version.Branch=HEAD" \
    -o "${staging}/" ./cmd/prometheus ./cmd/promtool
  "${staging}/prometheus" --version
  "${staging}/promtool" --version
} >"${log}" 2>&1
chmod 755 "${staging}"
rm -rf "${target}"
mv "${staging}" "${target}"
echo "Prometheus ${version} built in ${target}"
