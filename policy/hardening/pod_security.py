"""The pod security baseline (DESIGN §7, Pod Security Standards `restricted`): every
container (init and ephemeral ones too) non-root, on a read-only root filesystem,
unable to gain privileges, with no capabilities, under the runtime's default seccomp
profile; and no pod sharing anything with its node (namespaces, paths, ports)."""

from collections.abc import Mapping

from .pod_policy import pod_policy
from .workloads import containers, field, items


def _effective(container: Mapping, spec: Mapping, *path: str):
    """A security setting as Kubernetes applies it: the container's, else the pod's."""
    value = field(container, "securityContext", *path)
    return value if value is not None else field(spec, "securityContext", *path)


def _non_root(_kind: str, spec: Mapping) -> list[str]:
    problems = []
    for container in containers(spec):
        name = container.get("name")
        if _effective(container, spec, "runAsNonRoot") is not True:
            problems.append(f"container {name}: runAsNonRoot must be true")
        if _effective(container, spec, "runAsUser") == 0:
            problems.append(f"container {name}: runAsUser must not be 0 (root)")
    return problems


def _read_only_root(_kind: str, spec: Mapping) -> list[str]:
    return [
        f"container {container.get('name')}: securityContext.readOnlyRootFilesystem must be true"
        for container in containers(spec)
        if field(container, "securityContext", "readOnlyRootFilesystem") is not True
    ]


def _no_privilege_escalation(_kind: str, spec: Mapping) -> list[str]:
    problems = []
    for container in containers(spec):
        name = container.get("name")
        if field(container, "securityContext", "allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation must be false")
        if field(container, "securityContext", "privileged") is True:
            problems.append(f"container {name}: privileged must not be true")
    return problems


def _no_capabilities(_kind: str, spec: Mapping) -> list[str]:
    problems = []
    for container in containers(spec):
        name = container.get("name")
        capabilities = field(container, "securityContext", "capabilities")
        if "ALL" not in items(field(capabilities, "drop")):
            problems.append(f"container {name}: capabilities.drop must include ALL")
        added = list(items(field(capabilities, "add")))
        if added:
            problems.append(f"container {name}: capabilities.add must be empty, not {added}")
    return problems


def _seccomp_runtime_default(_kind: str, spec: Mapping) -> list[str]:
    return [
        f"container {container.get('name')}: seccompProfile.type must be RuntimeDefault"
        for container in containers(spec)
        if _effective(container, spec, "seccompProfile", "type") != "RuntimeDefault"
    ]


# Pod fields that put the pod in one of the node's own namespaces.
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _isolated_from_host(_kind: str, spec: Mapping) -> list[str]:
    problems = [f"{name} must not be true" for name in HOST_NAMESPACES if spec.get(name) is True]
    problems += [
        f"volume {volume.get('name')}: hostPath mounts the node's filesystem"
        for volume in items(spec.get("volumes"))
        if field(volume, "hostPath") is not None
    ]
    if field(spec, "securityContext", "windowsOptions", "hostProcess") is True:
        problems.append("securityContext.windowsOptions.hostProcess must not be true")
    for container in containers(spec):
        name = container.get("name")
        problems += [
            f"container {name}: port {field(port, 'containerPort')} is bound to host port "
            f"{field(port, 'hostPort')}"
            for port in items(container.get("ports"))
            if field(port, "hostPort") not in (None, 0)
        ]
        if field(container, "securityContext", "windowsOptions", "hostProcess") is True:
            problems.append(
                f"container {name}: securityContext.windowsOptions.hostProcess must not be true"
            )
    return problems


POLICIES = [
    pod_policy(
        "pods-run-as-non-root",
        "Every container runs as a non-root user (runAsNonRoot, and never user 0).",
        _non_root,
    ),
    pod_policy(
        "containers-read-only-root-filesystem",
        "Every container's root filesystem is read-only; writable paths are volumes.",
        _read_only_root,
    ),
    pod_policy(
        "containers-no-privilege-escalation",
        "No container may gain privileges (allowPrivilegeEscalation false, not privileged).",
        _no_privilege_escalation,
    ),
    pod_policy(
        "containers-drop-all-capabilities",
        "Every container drops all Linux capabilities and adds none.",
        _no_capabilities,
    ),
    pod_policy(
        "pods-seccomp-runtime-default",
        "Every container runs under the container runtime's default seccomp profile.",
        _seccomp_runtime_default,
    ),
    pod_policy(
        "pods-isolated-from-the-node",
        "No pod shares the node's network, PID or IPC namespace, mounts a hostPath volume, "
        "binds a host port or runs as a Windows host process.",
        _isolated_from_host,
    ),
]
