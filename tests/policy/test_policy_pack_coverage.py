"""The policy pack sees every pod, wherever a resource keeps one: every kind that
pulumi_kubernetes gives a pod spec (in every API version, with its *Patch and *List
variants), every container list (init, regular, ephemeral), and the pod fields that
share the node with the pod (host namespaces, hostPath volumes, host ports)."""

import copy
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pulumi
import pulumi_kubernetes
import pytest
from pulumi_policy import ResourceValidationPolicy

from infra.mock_runtime import Registered
from policy.hardening import POLICIES
from tests.policy.engine_calls import resource_violations, stack_violations
from tests.policy.test_policy_pack_validators import BY_NAME, changed, items_deployment

RESOURCE_POLICIES = [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)]
POD_SPEC_TYPES = ("PodSpecArgs", "PodSpecPatchArgs")
TYPE_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'(kubernetes:[^']+)'")
ARGS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*Args\b")


def violations(resource: Registered) -> list[tuple[str, str]]:
    """(policy, message) of every violation any resource policy of the pack reports."""
    return [
        (policy.name, message)
        for policy in RESOURCE_POLICIES
        for message in resource_violations(policy, resource)
    ]


def _resolve(name: str, module):
    value = module
    for part in name.split("."):
        value = getattr(value, part, None)
    return value if inspect.isclass(value) else None


def _pod_spec_paths(args_class, known: dict) -> set[tuple[str, ...]]:
    """Every path of wire names from an input type down to a pod spec, read from the
    SDK's typed property getters. `known` holds the types already walked (a type being
    walked counts as holding none, which ends the recursive ones)."""
    if args_class.__name__ in POD_SPEC_TYPES:
        return {()}
    if args_class in known:
        return known[args_class]
    known[args_class] = set()
    module = inspect.getmodule(args_class)
    paths = set()
    for attribute, value in vars(args_class).items():
        if not isinstance(value, property):
            continue
        wire_name = getattr(value.fget, "_pulumi_name", attribute)
        annotation = str(value.fget.__annotations__.get("return", ""))
        for name in ARGS_NAME.findall(annotation):
            inner = _resolve(name, module)
            if inner is not None:
                paths |= {(wire_name, *rest) for rest in _pod_spec_paths(inner, known)}
    known[args_class] = paths
    return paths


def _import_keeping_the_packages_names(name: str):
    """Imports a submodule without letting it shadow a name its package exports:
    pulumi_kubernetes.apiextensions exports the class CustomResource from a module
    of that same name, and a plain import would bind the package's name to the
    module, breaking every later k8s.apiextensions.CustomResource(...) in the run."""
    parent_name, _, attribute = name.rpartition(".")
    parent = importlib.import_module(parent_name)
    missing = object()
    exported = getattr(parent, attribute, missing)
    module = importlib.import_module(name)
    if exported is not missing and exported is not module:
        setattr(parent, attribute, exported)
    return module


def sdk_pod_spec_paths() -> dict[str, set[tuple[str, ...]]]:
    """Resource type -> the paths to its pod specs, for every resource class of
    pulumi_kubernetes whose inputs hold one."""
    found = {}
    known: dict = {}
    for module_info in pkgutil.walk_packages(pulumi_kubernetes.__path__, "pulumi_kubernetes."):
        module = _import_keeping_the_packages_names(module_info.name)
        for name, cls in vars(module).items():
            if not (
                inspect.isclass(cls)
                and issubclass(cls, pulumi.CustomResource)
                and cls.__module__ == module.__name__
            ):
                continue
            args_class = getattr(module, f"{name}Args", None)
            if args_class is not None and (paths := _pod_spec_paths(args_class, known)):
                token = TYPE_TOKEN.search(Path(module.__file__).read_text())
                found[token.group(1)] = paths
    return found


# Resource type -> its paths to a pod spec, as the SDK types them.
SDK_POD_SPEC_PATHS = sdk_pod_spec_paths()


def test_the_sdk_walk_finds_every_kind_with_a_pod_in_every_variant():
    """What the tests below run over: Pod, PodTemplate, ReplicationController and the
    apps/batch workloads, each with its Patch and List, in every API version."""
    kinds = {resource_type.rsplit(":", 1)[-1] for resource_type in SDK_POD_SPEC_PATHS}
    for kind in (
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
    ):
        assert {kind, f"{kind}Patch", f"{kind}List"} <= kinds
    assert len(SDK_POD_SPEC_PATHS) == 60
    assert SDK_POD_SPEC_PATHS["kubernetes:batch/v1beta1:CronJobList"] == {
        ("items", "spec", "jobTemplate", "spec", "template", "spec")
    }


def busybox(inputs: dict) -> dict:
    """A privileged busybox:latest container, hardened in every other respect (the
    program's own proxy container with its image and privilege changed)."""
    proxy = inputs["spec"]["template"]["spec"]["containers"][1]
    container = copy.deepcopy(proxy)
    container.update(name="busybox", image="busybox:latest")
    container["securityContext"]["privileged"] = True
    return container


PRIVILEGED_BUSYBOX = [
    ("containers-no-privilege-escalation", "container busybox: privileged must not be true"),
    (
        "images-pinned-by-digest",
        "container busybox runs busybox:latest: the `latest` tag names no particular build",
    ),
]


def holding(resource_type: str, path: tuple[str, ...], pod_spec: dict) -> Registered:
    """A resource of the type with `pod_spec` at `path` (`items` first: a list of one)."""
    listed = path[0] == "items"
    holder: dict = {"metadata": {"name": "busybox", "namespace": "items-audit"}}
    parent = holder
    for key in path[1 if listed else 0 : -1]:
        parent = parent.setdefault(key, {})
    parent[path[-1]] = pod_spec
    inputs = {"items": [holder]} if listed else holder
    urn = f"urn:pulumi:dev::items-audit::{resource_type}::busybox"
    return Registered(resource_type, "busybox", urn, inputs, set(), "")


def listed_kind(resource_type: str, path: tuple[str, ...]) -> str | None:
    """The kind of a *List's items (DeploymentList: Deployment), None for other types."""
    return resource_type.rsplit(":", 1)[-1].removesuffix("List") if path[0] == "items" else None


# The cases, then every other type the SDK gives a pod spec, so none is left out.
NAMED_TYPES = [
    ("kubernetes:core/v1:ReplicationController", ("spec", "template", "spec")),
    ("kubernetes:core/v1:PodTemplate", ("template", "spec")),
    ("kubernetes:apps/v1:DeploymentPatch", ("spec", "template", "spec")),
    ("kubernetes:core/v1:PodPatch", ("spec",)),
    ("kubernetes:batch/v1:CronJobPatch", ("spec", "jobTemplate", "spec", "template", "spec")),
]
EVERY_TYPE = NAMED_TYPES + sorted(
    (resource_type, path)
    for resource_type, paths in SDK_POD_SPEC_PATHS.items()
    for path in paths
    if (resource_type, path) not in NAMED_TYPES
)


@pytest.mark.parametrize(("resource_type", "path"), EVERY_TYPE, ids=[t for t, _ in EVERY_TYPE])
def test_a_privileged_busybox_latest_container_is_refused_in_every_kind(
    render, resource_type, path
):
    deployment = items_deployment(render)
    pod_spec = copy.deepcopy(deployment.inputs["spec"]["template"]["spec"])
    pod_spec["containers"] = [busybox(deployment.inputs)]
    kind = listed_kind(resource_type, path)
    prefix = f"{kind} busybox: " if kind else ""
    assert violations(holding(resource_type, path, pod_spec)) == [
        (policy, prefix + message) for policy, message in PRIVILEGED_BUSYBOX
    ]


@pytest.mark.parametrize(
    ("resource_type", "path"),
    [
        ("kubernetes:core/v1:ReplicationController", ("spec", "template", "spec")),
        ("kubernetes:apps/v1:DaemonSetList", ("items", "spec", "template", "spec")),
    ],
)
def test_a_pod_outside_the_stacks_namespace_is_refused_in_any_kind(render, resource_type, path):
    deployment = items_deployment(render)
    stray = holding(
        resource_type, path, copy.deepcopy(deployment.inputs["spec"]["template"]["spec"])
    )
    holder = stray.inputs["items"][0] if "items" in stray.inputs else stray.inputs
    holder["metadata"]["namespace"] = "kube-system"
    found = stack_violations(
        BY_NAME["workload-namespaces-restricted-and-deny-ingress"], [*render.resources, stray]
    )
    assert [urn for urn, _ in found] == [stray.urn, stray.urn]
    assert "runs in namespace kube-system, which is not a Namespace of this stack" in found[0][1]


def pod(inputs: dict) -> dict:
    return inputs["spec"]["template"]["spec"]


def proxy_container(inputs: dict) -> dict:
    return pod(inputs)["containers"][1]


def add_privileged_ephemeral_container(inputs: dict) -> None:
    debug = copy.deepcopy(proxy_container(inputs))
    for field in ("resources", "ports", "livenessProbe", "readinessProbe", "startupProbe"):
        debug.pop(field, None)  # the API refuses them on an ephemeral container
    debug["name"] = "debug"
    debug["securityContext"]["privileged"] = True
    pod(inputs)["ephemeralContainers"] = [debug]


HOST_SHARING = [
    (
        "host-network",
        lambda i: pod(i).update(hostNetwork=True),
        [("pods-isolated-from-the-node", "hostNetwork must not be true")],
    ),
    (
        "host-pid",
        lambda i: pod(i).update(hostPID=True),
        [("pods-isolated-from-the-node", "hostPID must not be true")],
    ),
    (
        "host-ipc",
        lambda i: pod(i).update(hostIPC=True),
        [("pods-isolated-from-the-node", "hostIPC must not be true")],
    ),
    (
        "host-path-volume",
        lambda i: pod(i)["volumes"].append({"name": "node-root", "hostPath": {"path": "/"}}),
        [
            (
                "pods-isolated-from-the-node",
                "volume node-root: hostPath mounts the node's filesystem",
            )
        ],
    ),
    (
        "host-port",
        lambda i: proxy_container(i)["ports"][0].update(hostPort=80),
        [
            (
                "pods-isolated-from-the-node",
                "container items-service-proxy: port 8080 is bound to host port 80",
            )
        ],
    ),
    (
        "windows-host-process",
        lambda i: pod(i)["securityContext"].update(windowsOptions={"hostProcess": True}),
        [
            (
                "pods-isolated-from-the-node",
                "securityContext.windowsOptions.hostProcess must not be true",
            )
        ],
    ),
    (
        "privileged-ephemeral-container",
        add_privileged_ephemeral_container,
        [("containers-no-privilege-escalation", "container debug: privileged must not be true")],
    ),
    (
        "root-ephemeral-container",
        lambda i: (
            add_privileged_ephemeral_container(i),
            pod(i)["ephemeralContainers"][0]["securityContext"].update(
                privileged=False, runAsUser=0
            ),
        ),
        [("pods-run-as-non-root", "container debug: runAsUser must not be 0 (root)")],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [(change, expected) for _, change, expected in HOST_SHARING],
    ids=[name for name, _, _ in HOST_SHARING],
)
def test_a_deployment_sharing_the_node_or_with_a_privileged_ephemeral_container_is_refused(
    render, change, expected
):
    assert violations(items_deployment(render)) == []
    assert violations(changed(items_deployment(render), change)) == expected
