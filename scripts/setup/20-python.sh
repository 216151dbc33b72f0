#!/usr/bin/env bash
# The test virtualenv (.venv) with requirements-dev.txt; reinstalled only when
# a requirements file changes.
set -euo pipefail
# Several test runs may start at once; one of them installs, the others wait.
exec 9>.venv.lock
flock 9
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/requirements.sha256
wanted="$(cat requirements-dev.txt */requirements.txt service-common/pyproject.toml | sha256sum)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${wanted}" ]]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "${wanted}" > "${stamp}"
fi
