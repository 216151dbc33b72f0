#!/usr/bin/env bash
# Selects the production stack in the team's state backend and sets the configuration
# that comes from the GitHub environment, so that `pulumi preview` and `pulumi up` see
# the same stack. Every key is one infra/config.py reads.
# Environment: PULUMI_BACKEND_URL (the state backend: never file://, which is this
# runner's disk and Pulumi.yaml's default), PULUMI_STACK (ORG/items-audit/STACK),
# PULUMI_ACCESS_TOKEN, IMAGE_REGISTRY, REGISTRY_USERNAME, REGISTRY_PASSWORD,
# DATABASE_URL (a migration role's, sslmode=verify-full), DATABASE_CIDRS (the database
# server's address ranges, comma-separated), KUBE_CONTEXT, PUBLIC_HOST (the host name of
# the items Ingress); optional ITEMS_IMAGE and AUDIT_IMAGE (REGISTRY/NAME@sha256:..., the
# digests CI published: the stack deploys them instead of building its own images).
# The stack must exist: it is created once, by hand (WRITEUP §2.1), never here, so a
# mistyped name stops the deploy instead of starting an empty stack.
set -euo pipefail
cd "$(dirname "$0")/../.."

refuse() {
  echo "production-stack.sh: $*" >&2
  exit 1
}

backend="${PULUMI_BACKEND_URL:-}"
if [[ -z "${backend}" ]]; then
  refuse "PULUMI_BACKEND_URL is not set: the CLI would keep production's state in Pulumi.yaml's" \
    "file:// backend on this runner, lost when the job ends. Set it in the workflow (cd.yml)."
fi
if [[ "${backend}" == file:* ]]; then
  refuse "PULUMI_BACKEND_URL is ${backend}: a file:// backend is this runner's disk, lost when" \
    "the job ends. Production's state lives in the team's backend (cd.yml names it)."
fi
stack="${PULUMI_STACK:-}"
if [[ ! "${stack}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*/items-audit/[A-Za-z0-9_.-]+$ ]]; then
  refuse "PULUMI_STACK must name the stack in full, ORGANIZATION/items-audit/STACK, not" \
    "'${stack}': a short name resolves against whatever organisation the token defaults to."
fi
# The only addresses the services may reach the database at (NetworkPolicy egress).
if [[ -z "${DATABASE_CIDRS:-}" ]]; then
  refuse "DATABASE_CIDRS is not set: the database server's address ranges (CIDRs), the only" \
    "ones the services may connect to. Set it as a variable of the GitHub environment."
fi
# Every other setting the stack takes from the GitHub environment, checked before the
# first pulumi command, so that none is left half set.
for name in KUBE_CONTEXT PUBLIC_HOST IMAGE_REGISTRY REGISTRY_USERNAME REGISTRY_PASSWORD DATABASE_URL; do
  if [[ -z "${!name:-}" ]]; then
    refuse "${name} is not set: the production stack needs it (this script's header says what" \
      "it holds). Set it as a variable or secret of the GitHub environment."
  fi
done

if ! pulumi stack select "${stack}" --non-interactive; then
  refuse "there is no stack ${stack} at ${backend} (or this token cannot read it)." \
    "The production stack is created once by hand (WRITEUP §2.1), never by a deploy."
fi
pulumi config set cluster remote
pulumi config set kube_context "${KUBE_CONTEXT}"
pulumi config set public_host "${PUBLIC_HOST}"
pulumi config set database_cidrs "${DATABASE_CIDRS}"
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
