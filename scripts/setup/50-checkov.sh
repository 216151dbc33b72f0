#!/usr/bin/env bash
# checkov (policy scanner for the rendered Kubernetes YAML and the Dockerfiles) in
# its own virtualenv .venv-checkov: it pins packaging<24, which conflicts with
# pulumi in .venv. Reinstalled only when the pinned version changes.
set -euo pipefail
# renovate: datasource=pypi depName=checkov
version=3.3.30
if [[ ! -x .venv-checkov/bin/python ]]; then
  python3 -m venv .venv-checkov
fi
stamp=.venv-checkov/checkov.version
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${version}" ]]; then
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==${version}"
  echo "${version}" > "${stamp}"
fi
