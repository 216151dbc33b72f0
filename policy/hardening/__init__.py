"""The items-audit hardening policy pack: its name and every policy in it."""

from . import exposure, images, pod_operations, pod_security

PACK_NAME = "items-audit-hardening"
POLICIES = [
    *pod_security.POLICIES,
    *pod_operations.POLICIES,
    *images.POLICIES,
    *exposure.POLICIES,
]
