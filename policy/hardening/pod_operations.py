"""What the scheduler and the kubelet need from every container: requests and limits
for CPU and memory, and on long-running pods the probes that restart a stuck
container and keep an unready one out of its Service."""

from collections.abc import Mapping

from .pod_policy import pod_policy
from .workloads import CONTAINERS, INIT_CONTAINERS, RUN_TO_COMPLETION, containers, field

RESOURCES = ("cpu", "memory")
PROBES = ("livenessProbe", "readinessProbe")


def _requests_and_limits(_kind: str, spec: Mapping) -> list[str]:
    return [
        f"container {container.get('name')}: resources.{bound}.{resource} must be set"
        # Ephemeral containers may not declare resources (the API refuses them).
        for container in containers(spec, (INIT_CONTAINERS, CONTAINERS))
        for bound in ("requests", "limits")
        for resource in RESOURCES
        if field(container, "resources", bound, resource) is None
    ]


def _probes(kind: str, spec: Mapping) -> list[str]:
    if kind in RUN_TO_COMPLETION:
        return []
    return [
        f"container {container.get('name')}: {probe} must be set"
        for container in containers(spec, (CONTAINERS,))
        for probe in PROBES
        if not isinstance(container.get(probe), Mapping)
    ]


POLICIES = [
    pod_policy(
        "containers-requests-and-limits",
        "Every container requests and is limited in CPU and memory.",
        _requests_and_limits,
    ),
    pod_policy(
        "long-running-containers-have-probes",
        "Every container of a long-running workload has liveness and readiness probes "
        "(Jobs run to completion and are exempt).",
        _probes,
    ),
]
