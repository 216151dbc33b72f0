#!/usr/bin/env bash
# Selects (or creates) the production stack in the Pulumi Cloud backend and sets
# the configuration that comes from the GitHub environment, so that `pulumi
# preview` and `pulumi up` see the same stack. Every key is one infra/config.py reads.
# Environment: PULUMI_STACK, IMAGE_REGISTRY, REGISTRY_USERNAME, REGISTRY_PASSWORD,
# DATABASE_URL, KUBE_CONTEXT, PUBLIC_HOST (and PULUMI_ACCESS_TOKEN for the backend);
# optional ITEMS_IMAGE and AUDIT_IMAGE (REGISTRY/NAME@sha256:..., the digests CI
# published: the stack deploys them instead of building its own images).
set -euo pipefail
cd "$(dirname "$0")/../.."

pulumi stack select --create "${PULUMI_STACK}"
pulumi config set cluster remote
pulumi config set kube_context "${KUBE_CONTEXT}"
pulumi config set public_host "${PUBLIC_HOST}"
# GHCR repository names are lower case.
pulumi config set image_registry "${IMAGE_REGISTRY,,}"
pulumi config set registry_username "${REGISTRY_USERNAME}"
if [[ -n "${ITEMS_IMAGE:-}" || -n "${AUDIT_IMAGE:-}" ]]; then
  pulumi config set items_image "${ITEMS_IMAGE:?both images or neither}"
  pulumi config set audit_image "${AUDIT_IMAGE:?both images or neither}"
fi
# Secrets go in through stdin (printf is a shell builtin): never on a command
# line, never in the log.
printf '%s' "${REGISTRY_PASSWORD}" | pulumi config set --secret registry_password
printf '%s' "${DATABASE_URL}" | pulumi config set --secret database_url
