"""Where a Kubernetes resource keeps its pods, as the engine hands it to a policy.

Properties arrive as read-only mappings and sequences (pulumi-policy's proxies, which
raise on a value still unknown at preview), so everything here reads through
`Mapping`/`Sequence`, never `dict`/`list`.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

# Resource type -> the path from the resource's properties to its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Pods that run to completion: no liveness or readiness to report.
RUN_TO_COMPLETION = {"kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"}


def field(value: Any, *path: str) -> Any:
    """value[path[0]][path[1]]..., or None where a step is missing."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def items(value: Any) -> Sequence:
    """A list property, or an empty one where it is missing."""
    return value if isinstance(value, Sequence) and not isinstance(value, str) else ()


def pod_spec(resource_type: str, props: Mapping) -> Mapping | None:
    """The pod spec of a workload, or None for any other resource."""
    path = POD_SPEC_PATHS.get(resource_type)
    if path is None:
        return None
    spec = field(props, *path)
    return spec if isinstance(spec, Mapping) else None


def containers(spec: Mapping, include_init: bool = True) -> Iterator[Mapping]:
    """The pod's containers (init containers first), each a mapping with a `name`."""
    groups = ("initContainers", "containers") if include_init else ("containers",)
    for group in groups:
        yield from items(spec.get(group))


def namespace_of(props: Mapping) -> str:
    """The namespace an object is created in; Kubernetes' default when none is given."""
    return field(props, "metadata", "namespace") or "default"
