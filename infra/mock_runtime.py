"""Run the program under Pulumi's mock runtime: no cluster, no CLI, no plugins.

Returns every resource the program registers (type, name, inputs as the
engine would receive them, dependencies) and the stack outputs. Used by
`python -m infra.render` and by tests/infra.
"""

import contextvars
import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.sync_await import _sync_await

from infra import program

PROJECT = "items-audit"
STACK = "dev"


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    inputs: dict
    dependencies: set[str]  # URNs this resource waits for
    parent: str
    # The URNs this resource answers to besides its own (its aliases): what it
    # was called in a stack deployed by an earlier version of the program.
    former_urns: set[str] = field(default_factory=set)
    protect: bool = False
    # How long the engine waits for the resource to become ready, by operation.
    custom_timeouts: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def kubernetes_objects(self) -> list[dict]:
        """Every Kubernetes object, as its manifest (apiVersion, kind, metadata, ...)."""
        return [
            r.inputs
            for r in self.resources
            if r.type.startswith("kubernetes:") and "kind" in r.inputs
        ]

    def by_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]


def plain(value: Any) -> Any:
    """Mock inputs with secrets unwrapped and whole floats back to ints
    (the engine's wire format has only floats)."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


AUTONAMED_ANNOTATION = "pulumi.com/autonamed"
# What the docker CLI answers the program (infra.images.LocalEngine), by subcommand.
LOCAL_COMMAND_OUTPUTS = {
    "context": "unix:///var/run/docker.sock",
    "version": "linux/amd64",
    "inspect": "0" * 64,
}


# What the mock API server answers for the cluster's objects the program reads,
# by id: a kind cluster's API server (its control-plane node on kind's network).
CLUSTER_OBJECTS = {
    ("kubernetes:discovery.k8s.io/v1:EndpointSlice", "default/kubernetes"): {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["172.18.0.2"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }
}
# The address a cloud gives a Service of type LoadBalancer (TEST-NET-1, RFC 5737).
LOAD_BALANCER_ADDRESS = "192.0.2.80"


def checked_inputs(type_: str, name: str, inputs: dict) -> dict:
    """The inputs as the provider's Check returns them: a Kubernetes object the
    program does not name gets `<resource name>-<8 hex>` and the autonamed
    annotation (pulumi-kubernetes; the suffix is random there, derived from the
    name here so that renders are stable)."""
    metadata = inputs.get("metadata")
    if not type_.startswith("kubernetes:") or not isinstance(metadata, dict):
        return inputs
    if metadata.get("name") or metadata.get("generateName"):
        return inputs
    checked = copy.deepcopy(inputs)
    suffix = hashlib.sha256(name.encode()).hexdigest()[:8]
    checked["metadata"]["name"] = f"{name}-{suffix}"
    checked["metadata"]["annotations"] = {
        **(checked["metadata"].get("annotations") or {}),
        AUTONAMED_ANNOTATION: "true",
    }
    return checked


def resource_uid(type_: str, name: str) -> str:
    """The uid the mock API server gives a Kubernetes object."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{type_}::{name}"))


class _Mocks(pulumi.runtime.Mocks):
    """Resources come back with their inputs as outputs, plus what a provider
    would compute and the program reads."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        if args.resource_id:  # a read of an object that exists in the cluster
            return args.resource_id, CLUSTER_OBJECTS[(args.typ, args.resource_id)]
        outputs = checked_inputs(args.typ, args.name, dict(args.inputs))
        if args.typ.startswith("kubernetes:") and isinstance(outputs.get("metadata"), dict):
            # As the API server does: every object gets a uid.
            outputs["metadata"] = {
                **outputs["metadata"],
                "uid": resource_uid(args.typ, args.name),
            }
        if (
            args.typ == "kubernetes:core/v1:Service"
            and outputs["spec"].get("type") == "LoadBalancer"
        ):
            outputs["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_ADDRESS}]}}
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = f"mock-{args.name}-0123456789"
        if args.typ == "docker:index/image:Image":
            outputs["repoDigest"] = outputs["imageName"].split(":")[0] + "@sha256:" + "0" * 64
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "command:local:run":  # noqa: S105 (a function name)
            return {"stdout": LOCAL_COMMAND_OUTPUTS[args.args["command"].split()[1]] + "\n"}
        return {}


class _RecordingMonitor(mocks.MockMonitor):
    """The mock monitor, also keeping each registration's dependencies."""

    def __init__(self, mocks_: pulumi.runtime.Mocks):
        super().__init__(mocks_)
        self.registrations: list[Registered] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = checked_inputs(
                request.type, request.name, plain(rpc.deserialize_properties(request.object))
            )
            dependencies = set(request.dependencies)
            for property_dependencies in request.propertyDependencies.values():
                dependencies.update(property_dependencies.urns)
            self.registrations.append(
                Registered(
                    request.type,
                    request.name,
                    response.urn,
                    inputs,
                    dependencies,
                    request.parent,
                    {self._alias_urn(request, alias) for alias in request.aliases},
                    bool(request.protect),
                    {
                        operation: getattr(request.customTimeouts, operation)
                        for operation in ("create", "update", "delete")
                        if getattr(request.customTimeouts, operation)
                    },
                )
            )
        return response

    def _alias_urn(self, request, alias) -> str:
        if alias.urn:
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)


# What the render puts in place of a setting the stack file holds encrypted (`pulumi
# config set --secret`), as it does for generated secrets: it has no passphrase. The
# database URL's placeholder names a server on PostgreSQL's own port, verified (the
# program refuses an external database it does not verify).
ENCRYPTED_PLACEHOLDERS = {
    f"{PROJECT}:database_url": (
        "postgresql://mock-encrypted:mock-encrypted@mock-encrypted-database:5432/itemsdb"
        "?sslmode=verify-full"
    ),
}


def encrypted_placeholder(key: str) -> str:
    return ENCRYPTED_PLACEHOLDERS.get(key, f"mock-encrypted-{key.split(':', 1)[-1]}")


def stack_config(stack_file: Path) -> dict[str, str]:
    """The `config:` values of a Pulumi.<stack>.yaml, as the CLI passes them (a structured
    value as JSON); an encrypted one (`secure:`) as its placeholder."""
    values = (yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}).get("config") or {}
    config = {}
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = encrypted_placeholder(key)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    return config


def run(
    config: dict[str, str] | None = None,
    secret_keys: tuple[str, ...] = (),
    sources: program.Sources | None = None,
) -> Run:
    """Run the program once with the given stack config (keys like
    `items-audit:namespace`), in a context of its own so that runs do not
    share the runtime's global state (root stack, config, outstanding RPCs)."""
    return contextvars.Context().run(
        _run, config or {}, secret_keys, sources or program.Sources.from_repo()
    )


def _run(config: dict[str, str], secret_keys: tuple[str, ...], sources: program.Sources) -> Run:
    monitor = _RecordingMonitor(_Mocks())
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(config, list(secret_keys))
    pulumi.runtime.set_mocks(
        monitor.mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor
    )
    result = Run()

    async def program_then_outputs():
        program.deploy(sources=sources)
        stack = settings.get_root_resource()
        for name, value in stack.outputs.items():
            output = pulumi.Output.from_input(value)
            result.outputs[name] = await output.future()
            if await output.is_secret():
                result.secret_outputs.add(name)

    _sync_await(pulumi.runtime.stack.run_pulumi_func(program_then_outputs))
    result.resources = monitor.registrations
    return result
