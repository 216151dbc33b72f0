"""What reaches the pods: a cloud load balancer only for the address ranges it
names, and every namespace that runs workloads is one this stack creates,
enforcing the `restricted` Pod Security Standard, with a NetworkPolicy that
denies all ingress not allowed explicitly."""

from collections.abc import Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .workloads import field, items, namespace_of, pod_specs

NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def enforces_restricted(namespace_props: Mapping) -> bool:
    return field(namespace_props, "metadata", "labels", ENFORCE_LABEL) == "restricted"


def denies_all_ingress(network_policy_props: Mapping) -> bool:
    """Selects every pod of its namespace, governs ingress, and allows none."""
    selector = field(network_policy_props, "spec", "podSelector")
    selects_all = isinstance(selector, Mapping) and not any(
        selector.get(key) for key in ("matchLabels", "matchExpressions")
    )
    types = items(field(network_policy_props, "spec", "policyTypes"))
    rules = items(field(network_policy_props, "spec", "ingress"))
    return selects_all and "Ingress" in types and not rules


def _load_balancer_names_its_sources(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if (
        args.resource_type == SERVICE
        and field(args.props, "spec", "type") == "LoadBalancer"
        and not items(field(args.props, "spec", "loadBalancerSourceRanges"))
    ):
        report_violation(
            "type LoadBalancer without loadBalancerSourceRanges opens a cloud load balancer "
            "to every address; name the ranges that may connect (0.0.0.0/0 only on purpose)",
            None,
        )


def _restricted_namespace(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == NAMESPACE and not enforces_restricted(args.props):
        report_violation(f"label {ENFORCE_LABEL} must be `restricted`", None)


def _guarded_workload_namespaces(
    args: StackValidationArgs, report_violation: ReportViolation
) -> None:
    restricted = set()
    for resource in args.resources:
        if resource.resource_type == NAMESPACE and enforces_restricted(resource.props):
            restricted.add(field(resource.props, "metadata", "name"))
    denying = {
        namespace_of(resource.props)
        for resource in args.resources
        if resource.resource_type == NETWORK_POLICY and denies_all_ingress(resource.props)
    }
    for resource in args.resources:
        for pod in pod_specs(resource.resource_type, resource.props):
            namespace = namespace_of(pod.holder)
            where = f"{pod.prefix}{resource.name} runs in namespace {namespace}"
            if namespace not in restricted:
                report_violation(
                    f"{where}, which is not a Namespace of this stack with "
                    f"{ENFORCE_LABEL}=restricted",
                    resource.urn,
                )
            if namespace not in denying:
                report_violation(
                    f"{where}, which has no NetworkPolicy denying all ingress "
                    "(empty podSelector, policyTypes Ingress, no rules)",
                    resource.urn,
                )


POLICIES = [
    ResourceValidationPolicy(
        name="load-balancers-name-their-sources",
        description="A Service of type LoadBalancer lists the address ranges that may connect.",
        validate=_load_balancer_names_its_sources,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    ResourceValidationPolicy(
        name="namespaces-enforce-restricted-pod-security",
        description="Every Namespace enforces the `restricted` Pod Security Standard.",
        validate=_restricted_namespace,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
    StackValidationPolicy(
        name="workload-namespaces-restricted-and-deny-ingress",
        description="Every namespace that runs workloads is created by this stack with the "
        "`restricted` Pod Security Standard and has a default-deny ingress NetworkPolicy.",
        validate=_guarded_workload_namespaces,
        enforcement_level=EnforcementLevel.MANDATORY,
    ),
]
