#!/usr/bin/env bash
# Prints the image CI's publish job built for a commit, as IMAGE@sha256:DIGEST, after
# checking that its signature was made by this repository's CI workflow on main for
# exactly that commit: what the CD workflow deploys is what CI built, scanned and signed.
# Usage: published-image.sh SERVICE
# Environment: REPOSITORY (owner/name), COMMIT (the full SHA CI ran on); docker logged
# in to GHCR; cosign on PATH.
set -euo pipefail
service="$1"
owner="${REPOSITORY%%/*}"
# GHCR names are lower case, as the publish job pushed them.
image="ghcr.io/${owner,,}/${service}"

digest="$(docker buildx imagetools inspect "${image}:sha-${COMMIT}" --format '{{.Manifest.Digest}}')"
if [[ ! "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]]; then
  echo "no published image ${image}:sha-${COMMIT} (got '${digest}')" >&2
  exit 1
fi
cosign verify \
  --certificate-oidc-issuer https://token.actions.githubusercontent.com \
  --certificate-identity "https://github.com/${REPOSITORY}/.github/workflows/ci.yml@refs/heads/main" \
  --certificate-github-workflow-sha "${COMMIT}" \
  "${image}@${digest}" >/dev/null
echo "${image}@${digest}"
