"""The CrossGuard policy pack (policy/): every policy passes every resource the program
creates, and refuses a copy of one of them with a single field changed."""

import copy
from collections.abc import Callable

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from infra import mock_runtime, pods
from infra.mock_runtime import Registered
from policy.hardening import POLICIES
from tests.policy.engine_calls import (
    is_default_deny_ingress,
    resource_violations,
    stack_violations,
)

BY_NAME = {policy.name: policy for policy in POLICIES}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DIGEST = "sha256:" + "ab" * 32


def find(render, type_: str, name: str) -> Registered:
    (resource,) = [r for r in render.resources if r.type == type_ and r.name == name]
    return resource


def changed(resource: Registered, change: Callable[[dict], None]) -> Registered:
    """A copy of the resource with `change` applied to its inputs."""
    altered = copy.deepcopy(resource)
    change(altered.inputs)
    return altered


def container(inputs: dict) -> dict:
    return inputs["spec"]["template"]["spec"]["containers"][0]


def items_deployment(render) -> Registered:
    return find(render, DEPLOYMENT, "items-service")


def test_the_pack_holds_each_guardrail_and_every_violation_is_mandatory():
    assert sorted(BY_NAME) == [
        "containers-drop-all-capabilities",
        "containers-no-privilege-escalation",
        "containers-read-only-root-filesystem",
        "containers-requests-and-limits",
        "images-pinned-by-digest",
        "load-balancers-name-their-sources",
        "long-running-containers-have-probes",
        "namespaces-enforce-restricted-pod-security",
        "pods-isolated-from-the-node",
        "pods-run-as-non-root",
        "pods-seccomp-runtime-default",
        "workload-namespaces-restricted-and-deny-ingress",
    ]
    assert {policy.enforcement_level for policy in POLICIES} == {EnforcementLevel.MANDATORY}
    # The engine runs stack policies once, on the whole stack, after the resource ones.
    stack = [p.name for p in POLICIES if isinstance(p, StackValidationPolicy)]
    assert stack == ["workload-namespaces-restricted-and-deny-ingress"]


@pytest.mark.parametrize(
    "policy",
    [p for p in POLICIES if isinstance(p, ResourceValidationPolicy)],
    ids=lambda p: p.name,
)
def test_every_resource_the_program_creates_passes(render, policy):
    refused = {r.name: resource_violations(policy, r) for r in render.resources}
    assert {name: found for name, found in refused.items() if found} == {}


def test_the_stack_passes_the_namespace_guardrail(render):
    policy = BY_NAME["workload-namespaces-restricted-and-deny-ingress"]
    assert stack_violations(policy, render.resources) == []


RESOURCE_BREAKAGES = [
    (
        "pods-run-as-non-root",
        lambda i: container(i)["securityContext"].update(runAsNonRoot=False),
        "container items-service: runAsNonRoot must be true",
    ),
    (
        "pods-run-as-non-root",
        lambda i: container(i)["securityContext"].update(runAsUser=0),
        "container items-service: runAsUser must not be 0 (root)",
    ),
    (
        "containers-read-only-root-filesystem",
        lambda i: container(i)["securityContext"].update(readOnlyRootFilesystem=False),
        "container items-service: securityContext.readOnlyRootFilesystem must be true",
    ),
    (
        "containers-no-privilege-escalation",
        lambda i: container(i)["securityContext"].pop("allowPrivilegeEscalation"),
        "container items-service: allowPrivilegeEscalation must be false",
    ),
    (
        "containers-no-privilege-escalation",
        lambda i: container(i)["securityContext"].update(privileged=True),
        "container items-service: privileged must not be true",
    ),
    (
        "containers-drop-all-capabilities",
        lambda i: container(i)["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        "container items-service: capabilities.drop must include ALL",
    ),
    (
        "containers-drop-all-capabilities",
        lambda i: container(i)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "container items-service: capabilities.add must be empty, not ['NET_ADMIN']",
    ),
    (
        "pods-seccomp-runtime-default",
        lambda i: i["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
        # The pod's setting: both its containers (the service and its proxy) lose it.
        [
            "container items-service: seccompProfile.type must be RuntimeDefault",
            "container items-service-proxy: seccompProfile.type must be RuntimeDefault",
        ],
    ),
    (
        "pods-seccomp-runtime-default",
        lambda i: container(i)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "container items-service: seccompProfile.type must be RuntimeDefault",
    ),
    (
        "containers-requests-and-limits",
        lambda i: container(i)["resources"]["limits"].pop("memory"),
        "container items-service: resources.limits.memory must be set",
    ),
    (
        "containers-requests-and-limits",
        lambda i: container(i)["resources"]["requests"].pop("cpu"),
        "container items-service: resources.requests.cpu must be set",
    ),
    (
        "long-running-containers-have-probes",
        lambda i: container(i).pop("readinessProbe"),
        "container items-service: readinessProbe must be set",
    ),
    (
        "long-running-containers-have-probes",
        lambda i: container(i).pop("livenessProbe"),
        "container items-service: livenessProbe must be set",
    ),
    (
        "images-pinned-by-digest",
        lambda i: container(i).update(image="items-service:latest"),
        "container items-service runs items-service:latest: "
        "the `latest` tag names no particular build",
    ),
    (
        "images-pinned-by-digest",
        lambda i: container(i).update(image="ghcr.io/acme/items-service:0123456789abcdef"),
        "container items-service runs ghcr.io/acme/items-service:0123456789abcdef: "
        "pin it by digest (name:tag@sha256:...)",
    ),
    (
        "images-pinned-by-digest",
        lambda i: container(i).update(image="items-service"),
        "container items-service runs items-service: pin it by digest (name:tag@sha256:...)",
    ),
]


@pytest.mark.parametrize(
    ("policy_name", "change", "violation"),
    RESOURCE_BREAKAGES,
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(RESOURCE_BREAKAGES)],
)
def test_a_workload_with_one_field_changed_is_refused(render, policy_name, change, violation):
    broken = changed(items_deployment(render), change)
    expected = violation if isinstance(violation, list) else [violation]
    assert resource_violations(BY_NAME[policy_name], broken) == expected
    others = [
        p for p in POLICIES if isinstance(p, ResourceValidationPolicy) and p != BY_NAME[policy_name]
    ]
    assert {p.name: resource_violations(p, broken) for p in others} == {p.name: [] for p in others}


@pytest.mark.parametrize(
    "image",
    [
        "grafana/grafana:12.1.1",
        "grafana/grafana:latest@" + DIGEST,
        "grafana/grafana",
        "grafana/grafana@sha256:0123",
    ],
)
def test_third_party_images_need_a_digest_and_never_latest(render, image):
    grafana = find(render, DEPLOYMENT, "grafana")
    broken = changed(grafana, lambda i: container(i).update(image=image))
    assert len(resource_violations(BY_NAME["images-pinned-by-digest"], broken)) == 1


@pytest.mark.parametrize(
    "image",
    [
        f"ghcr.io/acme/items-service@{DIGEST}",
        f"registry.example.com:5000/team/items-service:1.2.3@{DIGEST}",
        "items-service:0123456789abcdef",
    ],
)
def test_registry_digests_and_the_local_content_tag_are_pinned(render, image):
    broken = changed(items_deployment(render), lambda i: container(i).update(image=image))
    assert resource_violations(BY_NAME["images-pinned-by-digest"], broken) == []


def test_only_the_projects_own_images_go_by_content_tag_and_checkov_agrees(render):
    from policy.hardening.images import LOCAL_SERVICE_IMAGES

    assert "CKV_K8S_43" in pods.LOCAL_IMAGE_SKIPS
    # The local dev stack: the images are loaded into kind without a registry.
    skipping_digest = {
        manifest["metadata"]["name"]
        for manifest in render.kubernetes_objects()
        if any(
            value.startswith("CKV_K8S_43=")
            for value in (manifest["metadata"].get("annotations") or {}).values()
        )
    }
    assert set(LOCAL_SERVICE_IMAGES) == skipping_digest


def test_a_job_runs_without_probes_but_not_without_the_baseline(render):
    (job,) = [r for r in render.resources if r.type == "kubernetes:batch/v1:Job"]
    assert "livenessProbe" not in container(job.inputs)
    assert resource_violations(BY_NAME["long-running-containers-have-probes"], job) == []
    broken = changed(job, lambda i: container(i)["securityContext"].pop("readOnlyRootFilesystem"))
    assert resource_violations(BY_NAME["containers-read-only-root-filesystem"], broken) == [
        "container apply-schema: securityContext.readOnlyRootFilesystem must be true"
    ]


def test_an_init_container_meets_the_same_baseline(render):
    def add_root_init_container(inputs):
        init = copy.deepcopy(container(inputs))
        init.update(name="migrate", securityContext={"runAsUser": 0})
        inputs["spec"]["template"]["spec"]["initContainers"] = [init]

    broken = changed(items_deployment(render), add_root_init_container)
    assert resource_violations(BY_NAME["pods-run-as-non-root"], broken) == [
        "container migrate: runAsUser must not be 0 (root)"
    ]
    assert resource_violations(BY_NAME["long-running-containers-have-probes"], broken) == []


def test_a_load_balancer_open_to_every_address_by_default_is_refused(render):
    service = find(render, "kubernetes:core/v1:Service", "items-service")
    broken = changed(service, lambda i: i["spec"].update(type="LoadBalancer"))
    assert resource_violations(BY_NAME["load-balancers-name-their-sources"], broken) == [
        "type LoadBalancer without loadBalancerSourceRanges opens a cloud load balancer "
        "to every address; name the ranges that may connect (0.0.0.0/0 only on purpose)"
    ]


@pytest.mark.parametrize("exposure", ["ingress", "load-balancer"])
def test_a_remote_stacks_public_entry_passes_every_policy(exposure):
    """items_exposure on a remote cluster: an Ingress before a ClusterIP Service, or a
    load balancer open to the ranges the stack names."""
    remote = mock_runtime.run(
        {
            "items-audit:cluster": "remote",
            "items-audit:image_registry": "registry.example.com/team",
            "items-audit:public_host": "items.example.com",
            "items-audit:items_exposure": exposure,
            **(
                {"items-audit:load_balancer_source_ranges": "203.0.113.0/24"}
                if exposure == "load-balancer"
                else {}
            ),
        }
    )
    for policy in POLICIES:
        if isinstance(policy, ResourceValidationPolicy):
            refused = {r.name: resource_violations(policy, r) for r in remote.resources}
            assert {name: found for name, found in refused.items() if found} == {}, policy.name
        else:
            assert stack_violations(policy, remote.resources) == [], policy.name


@pytest.mark.parametrize("enforce", ["baseline", "privileged", None])
def test_a_namespace_not_enforcing_restricted_is_refused(render, enforce):
    namespace = find(render, "kubernetes:core/v1:Namespace", "namespace")
    label = "pod-security.kubernetes.io/enforce"

    def relabel(inputs):
        inputs["metadata"]["labels"].pop(label)
        if enforce:
            inputs["metadata"]["labels"][label] = enforce

    broken = changed(namespace, relabel)
    assert resource_violations(BY_NAME["namespaces-enforce-restricted-pod-security"], broken) == [
        f"label {label} must be `restricted`"
    ]


NAMESPACE_GUARDRAIL = "workload-namespaces-restricted-and-deny-ingress"


def workloads(render) -> list[Registered]:
    kinds = {
        DEPLOYMENT,
        "kubernetes:apps/v1:StatefulSet",
        "kubernetes:batch/v1:Job",
        "kubernetes:batch/v1:CronJob",
    }
    return [r for r in render.resources if r.type in kinds]


@pytest.mark.parametrize(
    "change",
    [
        lambda i: i["spec"].update(podSelector={"matchLabels": {"app": "x"}}),
        lambda i: i["spec"].update(policyTypes=["Egress"]),
        lambda i: i["spec"].update(ingress=[{}]),
    ],
    ids=["selects-some-pods", "egress-only", "allows-all-ingress"],
)
def test_without_a_default_deny_ingress_policy_every_workload_is_refused(render, change):
    (default_deny,) = [r for r in render.resources if is_default_deny_ingress(r)]
    resources = [changed(r, change) if r is default_deny else r for r in render.resources]
    violations = stack_violations(BY_NAME[NAMESPACE_GUARDRAIL], resources)
    assert sorted(urn for urn, _ in violations) == sorted(w.urn for w in workloads(render))
    assert all("has no NetworkPolicy denying all ingress" in message for _, message in violations)


def test_without_the_default_deny_policy_the_stack_is_refused(render):
    resources = [r for r in render.resources if not is_default_deny_ingress(r)]
    violations = stack_violations(BY_NAME[NAMESPACE_GUARDRAIL], resources)
    assert len(violations) == len(workloads(render)) > 0


def test_a_workload_outside_the_stacks_restricted_namespace_is_refused(render):
    moved = changed(items_deployment(render), lambda i: i["metadata"].update(namespace="default"))
    resources = [moved if r.urn == moved.urn else r for r in render.resources]
    assert stack_violations(BY_NAME[NAMESPACE_GUARDRAIL], resources) == [
        (
            moved.urn,
            "items-service runs in namespace default, which is not a Namespace of this stack "
            "with pod-security.kubernetes.io/enforce=restricted",
        ),
        (
            moved.urn,
            "items-service runs in namespace default, which has no NetworkPolicy denying all "
            "ingress (empty podSelector, policyTypes Ingress, no rules)",
        ),
    ]
