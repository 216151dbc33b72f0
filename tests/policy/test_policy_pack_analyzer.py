"""The policy pack started the way the Pulumi CLI starts a Python pack (the Python
language host's RunPlugin runs `<pack virtualenv>/bin/python <pack directory> ENGINE`
from the program's directory and reads the analyzer's port from its first line of
output), then asked over gRPC what the engine asks at `pulumi preview`: which policies
it holds, and what it finds in a resource and in the whole stack. A violation comes
back MANDATORY: the engine fails the run."""

import copy
import re
import select
import subprocess
import sys

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.program import REPO_ROOT
from policy.hardening import PACK_NAME, POLICIES
from tests.policy.engine_calls import is_default_deny_ingress

POLICY_PACK = REPO_ROOT / "policy"
# The pack never calls the engine back (it logs nothing); the CLI passes one anyway.
UNUSED_ENGINE_ADDRESS = "127.0.0.1:1"


def pinned(requirements: str, package: str) -> str:
    (line,) = [
        line
        for line in (REPO_ROOT / requirements).read_text().splitlines()
        if line.startswith(f"{package}==")
    ]
    return line


@pytest.fixture(scope="module")
def analyzer():
    process = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_PACK), UNUSED_ENGINE_ADDRESS],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        first_line = process.stdout.readline() if ready else ""
        assert re.fullmatch(r"\d+\n", first_line), (
            f"no port from the pack: {first_line!r} {process.stderr.read() if not ready else ''}"
        )
        with grpc.insecure_channel(f"127.0.0.1:{first_line.strip()}") as channel:
            yield proto.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)


def properties(inputs: dict) -> struct_pb2.Struct:
    """Resource inputs on the wire: a protobuf Struct, where every number is a double."""
    return json_format.ParseDict(inputs, struct_pb2.Struct())


def analyze(analyzer, resource) -> list:
    request = proto.AnalyzeRequest(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        properties=properties(resource.inputs),
    )
    return list(analyzer.Analyze(request).diagnostics)


def analyze_stack(analyzer, resources) -> list:
    request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=r.type, name=r.name, urn=r.urn, properties=properties(r.inputs)
            )
            for r in resources
        ]
    )
    return list(analyzer.AnalyzeStack(request).diagnostics)


def test_the_pack_runs_on_the_pinned_sdks_the_tests_use():
    for package in ("pulumi-policy", "pulumi"):
        assert pinned("policy/requirements.txt", package) == pinned("requirements-dev.txt", package)


def test_the_pack_announces_every_policy_as_mandatory(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert {p.name: p.enforcementLevel for p in info.policies} == {
        p.name: proto.MANDATORY for p in POLICIES
    }


def test_the_programs_resources_and_stack_pass(analyzer, render):
    found = {r.name: analyze(analyzer, r) for r in render.resources}
    assert {name: diagnostics for name, diagnostics in found.items() if diagnostics} == {}
    assert analyze_stack(analyzer, render.resources) == []


def test_a_root_container_is_refused_as_mandatory(analyzer, render):
    (deployment,) = [
        r for r in render.resources if r.name == "items-service" and r.type.endswith(":Deployment")
    ]
    root = copy.deepcopy(deployment)
    root.inputs["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = 0
    (diagnostic,) = analyze(analyzer, root)
    assert diagnostic.policyName == "pods-run-as-non-root"
    assert diagnostic.policyPackName == PACK_NAME
    assert diagnostic.enforcementLevel == proto.MANDATORY
    assert diagnostic.message.endswith("container items-service: runAsUser must not be 0 (root)")


def test_a_privileged_container_in_a_patch_is_refused_as_mandatory(analyzer, render):
    (deployment,) = [
        r for r in render.resources if r.name == "items-service" and r.type.endswith(":Deployment")
    ]
    patch = copy.deepcopy(deployment)
    patch.type = "kubernetes:apps/v1:DeploymentPatch"
    pod = patch.inputs["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"]["privileged"] = True
    pod["hostNetwork"] = True
    diagnostics = analyze(analyzer, patch)
    assert {(d.policyName, d.enforcementLevel) for d in diagnostics} == {
        ("containers-no-privilege-escalation", proto.MANDATORY),
        ("pods-isolated-from-the-node", proto.MANDATORY),
    }


def test_a_stack_without_default_deny_ingress_is_refused_as_mandatory(analyzer, render):
    without = [r for r in render.resources if not is_default_deny_ingress(r)]
    diagnostics = analyze_stack(analyzer, without)
    assert diagnostics
    assert {d.policyName for d in diagnostics} == {
        "workload-namespaces-restricted-and-deny-ingress"
    }
    assert {d.enforcementLevel for d in diagnostics} == {proto.MANDATORY}


def test_an_image_unknown_until_the_build_is_noted_at_preview_not_refused(analyzer, render):
    (deployment,) = [
        r for r in render.resources if r.name == "items-service" and r.type.endswith(":Deployment")
    ]
    previewed = copy.deepcopy(deployment)
    container = previewed.inputs["spec"]["template"]["spec"]["containers"][0]
    container["image"] = UNKNOWN_STRING_VALUE
    (diagnostic,) = analyze(analyzer, previewed)
    assert diagnostic.policyName == "images-pinned-by-digest"
    assert diagnostic.enforcementLevel == proto.ADVISORY
    assert "can't be known during preview" in diagnostic.message
