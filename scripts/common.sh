# shellcheck shell=bash disable=SC2034 # the constants are read by the scripts that source this
# Shared by scripts/up and scripts/down (sourced, not run, from the repository's root).
#
# Environment (all optional):
#   PULUMI_STACK              the stack (default: dev)
#   PULUMI_CONFIG_PASSPHRASE  encrypts the stack's secrets in its state (default:
#                             items-audit-dev, the passphrase Pulumi.dev.yaml's salt is for)
#   PULUMI_BACKEND_URL        where the state is kept (default: Pulumi.yaml's file://~/.pulumi-local)

# The versions these scripts were tested with, and the oldest each works with.
readonly KIND_MINIMUM=0.32.0          # kind/cluster.yaml pins the node image kind 0.32.0 ships
readonly PULUMI_MINIMUM=3.272.0       # the SDK in infra/requirements.txt
readonly PYTHON_MINIMUM=3.11          # the program's requirements, and the shared service package
readonly KUBERNETES_MINIMUM=1.30      # the pods' preStop sleep action
readonly DOCKER_ENGINE_MINIMUM=24.0   # the README's prerequisite

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

# Stops unless the Docker engine answers: kind, the image builds and the
# cluster's state all depend on it, and a stopped engine looks like no cluster.
require_docker_engine() {
  if ! docker info >/dev/null 2>&1; then
    echo "the Docker engine does not answer (docker info failed): start Docker, or check that you may use its socket (DOCKER_HOST, docker context). Nothing was changed." >&2
    exit 1
  fi
}

# The state backend's URL: $PULUMI_BACKEND_URL, else Pulumi.yaml's backend.url.
backend_url() {
  if [[ -n "${PULUMI_BACKEND_URL:-}" ]]; then
    echo "${PULUMI_BACKEND_URL}"
    return
  fi
  awk '/^backend:/ { inside = 1; next }
       inside && /^[^[:space:]#]/ { inside = 0 }
       inside && $1 == "url:" { print $2; exit }' Pulumi.yaml
}

# The home directory of the OS user, as the Pulumi CLI finds it to expand `~` in a
# file:// backend URL (Go's os/user: the user database, not $HOME; $HOME only for a
# user the database does not know, e.g. a container run with an arbitrary uid).
os_user_home() {
  python3 -c 'import os, pwd
try:
    print(pwd.getpwuid(os.getuid()).pw_dir)
except KeyError:
    print(os.environ.get("HOME", ""))'
}

# The local directory a file:// backend URL names, as the CLI resolves it (relative
# paths from the current directory); nothing for any other backend.
state_directory() {
  local url path
  url="$(backend_url)"
  [[ "${url}" == file://* ]] || return 0
  path="${url#file://}"
  path="${path%%\?*}"
  if [[ "${path}" == \~ ]]; then
    path="$(os_user_home)"
  elif [[ "${path}" == \~/* ]]; then
    path="$(os_user_home)/${path#\~/}"
  elif [[ "${path}" != /* ]]; then
    path="${PWD}/${path}"
  fi
  echo "${path}"
}

# The Pulumi CLI refuses a file:// backend whose directory does not exist
# ("unable to open state directory"): create it on the first run.
ensure_state_directory() {
  local directory
  directory="$(state_directory)"
  if [[ -n "${directory}" && ! -d "${directory}" ]]; then
    echo "==> creating the Pulumi state directory ${directory} ($(backend_url))"
    mkdir -p "${directory}"
  fi
}

# True when the backend holds the stack. A file:// backend whose directory does not
# exist holds none; any error of the CLI is shown and stops the script.
stack_exists() {
  local directory listing
  directory="$(state_directory)"
  if [[ -n "${directory}" && ! -d "${directory}" ]]; then
    return 1
  fi
  # `|| exit`: set -e does not apply inside a condition, and this is one.
  listing="$(pulumi stack ls --json)" || exit 1
  STACK_LISTING="${listing}" python3 -c 'import json, os, sys
names = {entry["name"].rsplit("/", 1)[-1] for entry in json.loads(os.environ["STACK_LISTING"])}
sys.exit(0 if sys.argv[1] in names else 1)' "${stack}"
}

# Reads the stack's settings once, before stack_setting: a stack in the backend is
# asked (errors shown); a stack not created yet has only its settings file,
# Pulumi.<stack>.yaml, if any (read by stack_setting: `pulumi config` needs the stack
# to exist, and nothing may be created before the checks are done). Sets STACK_EXISTS
# (true or false), as the backend said then.
load_stack_settings() {
  STACK_SETTINGS=""
  STACK_EXISTS=false
  if stack_exists; then
    STACK_EXISTS=true
    STACK_SETTINGS="$(pulumi config --json --stack "${stack}")" || exit 1
  fi
  STACK_SETTINGS_LOADED=true
}

# stack_setting KEY DEFAULT: a plain setting of the stack (items-audit:KEY).
stack_setting() {
  local key="items-audit:$1" default="$2"
  if [[ "${STACK_SETTINGS_LOADED:-}" != true ]]; then
    echo "stack_setting before load_stack_settings" >&2
    exit 1
  fi
  if [[ -n "${STACK_SETTINGS}" ]]; then
    STACK_SETTINGS="${STACK_SETTINGS}" python3 -c 'import json, os, sys
entry = json.loads(os.environ["STACK_SETTINGS"]).get(sys.argv[1])
print(sys.argv[2] if entry is None or entry.get("secret") else entry["value"])' "${key}" "${default}"
  elif [[ -f "Pulumi.${stack}.yaml" ]]; then
    awk -v key="${key}:" -v default="${default}" '
      /^config:/ { inside = 1; next }
      inside && /^[^[:space:]#]/ { inside = 0 }
      inside && $1 == key { value = $2; gsub(/^["'\'']|["'\'']$/, "", value); found = 1 }
      END { print (found ? value : default) }' "Pulumi.${stack}.yaml"
  else
    echo "${default}"
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

# The host addresses kind/cluster.yaml publishes the node's ports on, one
# "ADDRESS PORT" line each (kind listens on 0.0.0.0 when no listenAddress is given).
kind_host_ports() {
  awk 'function flush() {
         if (port != "") print (address == "" ? "0.0.0.0" : address) " " port
         port = ""; address = ""
       }
       $1 == "-" { flush() }
       $1 == "hostPort:" { port = $2 }
       $1 == "listenAddress:" { address = $2; gsub(/["'\'']/, "", address) }
       END { flush() }' kind/cluster.yaml
}

# Stops, naming each one and how to find its holder, unless every host port the
# kind cluster publishes can be bound as kind will bind it.
require_free_kind_ports() {
  local address port busy=()
  while read -r address port; do
    if ! python3 -c 'import errno, socket, sys
probe = socket.socket()
probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    probe.bind((sys.argv[1], int(sys.argv[2])))
except OSError as error:
    if error.errno != errno.EADDRINUSE:
        raise
    sys.exit(1)' "${address}" "${port}"; then
      busy+=("${address}:${port}")
    fi
  done < <(kind_host_ports)
  if ((${#busy[@]})); then
    {
      echo "the kind cluster publishes its services on host ports that are in use: ${busy[*]} (kind/cluster.yaml)."
      for port in "${busy[@]}"; do
        echo "  see what holds ${port}: lsof -nP -iTCP:${port##*:} -sTCP:LISTEN  (Linux: ss -ltnp 'sport = :${port##*:}')"
      done
      echo "Stop it (or delete an old kind cluster: kind get clusters), then run make up again. Nothing was changed."
    } >&2
    exit 1
  fi
}
