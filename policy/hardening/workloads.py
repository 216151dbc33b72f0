"""Where a Kubernetes resource keeps its pods, as the engine hands it to a policy.

Every kind that carries a pod spec is covered in every API version pulumi_kubernetes
types it in, with its `*Patch` variant (server-side apply of some fields of an existing
object) and its `*List` variant (a list of such objects, in `items`). A patch is judged
as if it were the whole object: the pack cannot see the fields it leaves as they are on
the server, so a patch that names a container must carry that container's hardening.

Properties arrive as read-only mappings and sequences (pulumi-policy's proxies, which
raise on a value still unknown at preview), so everything here reads through
`Mapping`/`Sequence`, never `dict`/`list`.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Kind -> the path from such an object's properties to its pod spec.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# The API versions pulumi_kubernetes types each of those kinds in (retired ones
# included: the pack must not be blind to an old manifest).
KINDS_BY_API_VERSION: dict[str, tuple[str, ...]] = {
    "core/v1": ("Pod", "PodTemplate", "ReplicationController"),
    "apps/v1": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    "apps/v1beta1": ("Deployment", "StatefulSet"),
    "apps/v1beta2": ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"),
    "extensions/v1beta1": ("Deployment", "DaemonSet", "ReplicaSet"),
    "batch/v1": ("Job", "CronJob"),
    "batch/v1beta1": ("CronJob",),
    "batch/v2alpha1": ("CronJob",),
}
# Pods that run to completion: no liveness or readiness to report.
RUN_TO_COMPLETION = {"Job", "CronJob"}

# The container lists of a pod spec. Ephemeral containers (kubectl debug) may not
# declare resources, ports or probes, but run with whatever security they ask for.
INIT_CONTAINERS = "initContainers"
CONTAINERS = "containers"
EPHEMERAL_CONTAINERS = "ephemeralContainers"
EVERY_CONTAINER_LIST = (INIT_CONTAINERS, CONTAINERS, EPHEMERAL_CONTAINERS)


@dataclass(frozen=True)
class PodBearer:
    kind: str  # Deployment, for a Deployment, a DeploymentPatch and a DeploymentList
    listed: bool  # a *List: the objects are its `items`


def _pod_bearers() -> dict[str, PodBearer]:
    bearers = {}
    for api_version, kinds in KINDS_BY_API_VERSION.items():
        for kind in kinds:
            prefix = f"kubernetes:{api_version}:{kind}"
            bearers[prefix] = bearers[f"{prefix}Patch"] = PodBearer(kind, listed=False)
            bearers[f"{prefix}List"] = PodBearer(kind, listed=True)
    return bearers


# Resource type (as the engine names it) -> what holds its pods.
POD_BEARERS: dict[str, PodBearer] = _pod_bearers()


@dataclass(frozen=True)
class PodSpecOf:
    """A pod spec and the object that holds it (a list item for a *List)."""

    kind: str
    holder: Mapping
    spec: Mapping
    # How a problem names the object: empty for the resource itself.
    prefix: str


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


def pod_specs(resource_type: str, props: Mapping) -> list[PodSpecOf]:
    """The pod specs a resource holds: none for a resource that holds no pods."""
    bearer = POD_BEARERS.get(resource_type)
    if bearer is None:
        return []
    path = POD_SPEC_PATHS[bearer.kind]
    if not bearer.listed:
        holders = [(props, "")]
    else:
        holders = [
            (item, f"{bearer.kind} {field(item, 'metadata', 'name') or f'items[{index}]'}: ")
            for index, item in enumerate(items(props.get("items")))
        ]
    found = []
    for holder, prefix in holders:
        spec = field(holder, *path)
        if isinstance(spec, Mapping):
            found.append(PodSpecOf(bearer.kind, holder, spec, prefix))
    return found


def containers(spec: Mapping, lists: Sequence[str] = EVERY_CONTAINER_LIST) -> Iterator[Mapping]:
    """The pod's containers of the given lists (by default every one: init, regular,
    ephemeral), each a mapping with a `name`."""
    for group in lists:
        yield from items(spec.get(group))


def namespace_of(props: Mapping) -> str:
    """The namespace an object is created in; Kubernetes' default when none is given."""
    return field(props, "metadata", "namespace") or "default"
