# shellcheck shell=bash disable=SC2034 # the constants are read by the scripts that source this
# Shared by scripts/up and scripts/down (sourced, not run).
#
# Environment (all optional):
#   PULUMI_STACK              the stack (default: dev)
#   PULUMI_CONFIG_PASSPHRASE  encrypts the stack's secrets in its state
#                             (default: items-audit-dev; set your own before the first `make up`)
#   PULUMI_BACKEND_URL        where the state is kept (default: Pulumi.yaml's file://~/.pulumi-local)

# The versions these scripts were tested with, and the oldest each works with.
readonly KIND_MINIMUM=0.32.0      # kind/cluster.yaml pins the node image kind 0.32.0 ships
readonly PULUMI_MINIMUM=3.272.0   # the SDK in infra/requirements.txt
readonly PYTHON_MINIMUM=3.11      # the program's requirements, and the shared service package
readonly KUBERNETES_MINIMUM=1.30  # the pods' preStop sleep action

readonly stack="${PULUMI_STACK:-dev}"
# A fixed, documented default keeps the dev stack one command; set your own for anything else.
readonly DEFAULT_PASSPHRASE=items-audit-dev
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-${DEFAULT_PASSPHRASE}}"
export PULUMI_SKIP_UPDATE_CHECK=true

# version_at_least HAVE WANT: true when dotted version HAVE >= WANT.
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

# require TOOL HINT: stop with HINT when TOOL is not on PATH.
require() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing prerequisite: $1. $2" >&2
    exit 1
  fi
}

# The stack's `cluster` setting (kind unless set): how images reach the cluster,
# and whether `make up` creates it.
stack_cluster() {
  pulumi config get --stack "${stack}" cluster 2>/dev/null || echo kind
}

# The kind cluster name (kind/cluster.yaml and the stack's default agree on it).
stack_kind_cluster() {
  pulumi config get --stack "${stack}" kind_cluster_name 2>/dev/null || echo items-audit
}

# Stops unless the Docker engine answers: kind, the image builds and the
# cluster's state all depend on it, and a stopped engine looks like no cluster.
require_docker_engine() {
  if ! docker info >/dev/null 2>&1; then
    echo "the Docker engine does not answer (docker info failed): start Docker, or check that you may use its socket (DOCKER_HOST, docker context). Nothing was changed." >&2
    exit 1
  fi
}

# kind_cluster_exists NAME: asks kind, and stops when kind itself cannot tell.
kind_cluster_exists() {
  local clusters
  if ! clusters="$(kind get clusters 2>&1)"; then
    echo "kind could not list its clusters: ${clusters}" >&2
    exit 1
  fi
  grep -qx "$1" <<<"${clusters}"
}
