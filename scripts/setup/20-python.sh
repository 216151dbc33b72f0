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
wanted="$(cat requirements-dev.txt ./*/requirements.txt service-common/pyproject.toml | sha256sum)"
if [[ ! -f "${stamp}" || "$(cat "${stamp}")" != "${wanted}" ]]; then
  pip=("${PWD}/.venv/bin/pip" --quiet --disable-pip-version-check)
  "${pip[@]}" install --upgrade pip
  # Each service as its README says: `pip install -r requirements.txt` in its directory.
  for service in items-service audit-service; do
    (cd "${service}" && "${pip[@]}" install -r requirements.txt)
  done
  # The test tools may not move a service's pin: its pins are constraints here.
  constraints="$(mktemp)"
  trap 'rm -f "${constraints}"' EXIT
  grep -hv -e '^#' -e '^\.\./' items-service/requirements.txt audit-service/requirements.txt >"${constraints}"
  "${pip[@]}" install -r requirements-dev.txt -c "${constraints}"
  "${pip[@]}" check
  echo "${wanted}" > "${stamp}"
fi
