# shellcheck shell=bash disable=SC2034 # the variables are the scripts' that source this
# Sourced by e2e/pods/images/build and load: which stand-in stands for which pinned
# image, and the names of the cluster's own images. README: e2e/pods/README.md.

images_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "${images_dir}/../../.." && pwd)"
# The Debian stand-in base every stand-in but pause is built FROM (scripts/setup/35-base-image.sh).
base_image="${STANDIN_BASE_IMAGE:-items-audit-test/debian-python:bookworm-1}"
# Local Docker tags: ${standin_namespace}/<directory>:<tag>.
standin_namespace=items-audit-standin

# The repository of each third-party image the program pins (as containerd names it:
# `postgres` is docker.io/library/postgres) and the directory of its stand-in. A pin
# with no line here stops `build`.
declare -A pinned_standins=(
  [docker.io/library/postgres]=postgres
  [docker.io/nginxinc/nginx-unprivileged]=nginx-unprivileged
  [docker.io/prom/prometheus]=prometheus
  [docker.io/grafana/grafana]=grafana
)

# The cluster's own images (directory names); their tags come from the binaries built
# by e2e/build-tools --node, or name the Debian release of the base.
cluster_standins=(coredns local-path-provisioner local-path-helper pause probe)

# The binary from BIN_DIR each stand-in's build context needs.
declare -A standin_binaries=(
  [coredns]=coredns
  [local-path-provisioner]=local-path-provisioner
  [pause]=pause
)

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# The third-party images the program runs, one a line, as `python -m infra.third_party_images`
# lists them.
pinned_images() {
  local python="${PYTHON:-${repo_root}/.venv/bin/python}"
  [[ -x "${python}" ]] || die "no Python virtualenv at ${python}: run bash scripts/setup/20-python.sh (or set PYTHON)"
  (cd "${repo_root}" && "${python}" -m infra.third_party_images) |
    "${python}" -c 'import json, sys; print("\n".join(json.load(sys.stdin)))'
}

# pin_parts PIN: sets pin_repository (as written), pin_tag and pin_digest (either may be empty).
pin_parts() {
  local pin="$1" name
  pin_digest=""
  name="${pin}"
  if [[ "${pin}" == *@* ]]; then
    name="${pin%%@*}"
    pin_digest="${pin#*@}"
  fi
  pin_repository="${name}"
  pin_tag=""
  if [[ "${name##*/}" == *:* ]]; then
    pin_repository="${name%:*}"
    pin_tag="${name##*:}"
  fi
}

# The repository as containerd and the CRI name it: docker.io/library/postgres, docker.io/prom/prometheus.
normalized_repository() {
  local repository="$1" first="${1%%/*}"
  if [[ "${repository}" != */* ]]; then
    echo "docker.io/library/${repository}"
  elif [[ "${first}" == *.* || "${first}" == *:* || "${first}" == localhost ]]; then
    echo "${repository}"
  else
    echo "docker.io/${repository}"
  fi
}

# The directory of a pinned image's stand-in; empty if it has none. (Sets pin_parts'
# variables when not run in a subshell.)
standin_of() {
  pin_parts "$1"
  echo "${pinned_standins[$(normalized_repository "${pin_repository}")]:-}"
}

# The local tag of a pinned image's stand-in: items-audit-standin/postgres:16.15-bookworm.
pinned_standin_tag() {
  local name
  name="$(standin_of "$1")"
  pin_parts "$1"
  echo "${standin_namespace}/${name}:${pin_tag:-latest}"
}

# The tag of a cluster image: the version of the binary it holds.
cluster_image_tag() {
  local name="$1" bin_dir="$2" version
  case "${name}" in
    coredns) version="v$("${bin_dir}/coredns" -version | sed -n 's/^CoreDNS-//p')" ;;
    local-path-provisioner) version="$("${bin_dir}/local-path-provisioner" --version | awk '{print $NF}')" ;;
    pause) version="$("${bin_dir}/pause" -v | awk '{print $NF}')" ;;
    *) version=bookworm ;;
  esac
  [[ "${version}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]*$ ]] || die "cannot tell the version of ${name} from ${bin_dir}"
  echo "${version}"
}

# The name a cluster image has in the node's containerd (the one e2e/node-up's manifests
# and containerd's sandbox setting use): upstream's name for the stand-ins of upstream
# images, with the version of the binary they hold.
cluster_image_name() {
  local name="$1" bin_dir="$2" version
  version="$(cluster_image_tag "${name}" "${bin_dir}")"
  case "${name}" in
    coredns) echo "registry.k8s.io/coredns/coredns:${version}" ;;
    local-path-provisioner) echo "docker.io/rancher/local-path-provisioner:${version}" ;;
    # pause -v says v3.10.2-items-audit: upstream's tag is 3.10.2.
    pause) version="${version#v}" && echo "registry.k8s.io/pause:${version%%-*}" ;;
    local-path-helper) echo "docker.io/items-audit-e2e/local-path-helper:1" ;;
    probe) echo "docker.io/items-audit-e2e/probe:1" ;;
    *) die "no cluster image ${name}" ;;
  esac
}

require_bin_dir() {
  local bin_dir="$1" name
  [[ -d "${bin_dir}" ]] || die "no such directory: ${bin_dir} (give e2e/build-tools --node --print-bin-dir's)"
  for name in "${standin_binaries[@]}"; do
    [[ -x "${bin_dir}/${name}" ]] || die "${bin_dir}/${name} is missing: run e2e/build-tools --node"
  done
}
