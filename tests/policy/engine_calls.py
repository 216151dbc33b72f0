"""Calling the policy pack's validators as the Pulumi engine does: a resource's
properties behind pulumi-policy's read-only proxy, one ResourceValidationArgs per
resource, one StackValidationArgs per stack; violations collected instead of reported."""

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from infra.mock_runtime import Registered

NO_OPTIONS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


def resource_violations(policy: ResourceValidationPolicy, resource: Registered) -> list[str]:
    violations: list[str] = []
    args = ResourceValidationArgs(
        resource_type=resource.type,
        props=unknown_checking_proxy(resource.inputs),
        urn=resource.urn,
        name=resource.name,
        opts=NO_OPTIONS,
        provider=None,
    )
    policy.validate(args, lambda message, urn=None: violations.append(message))
    return violations


def stack_violations(
    policy: StackValidationPolicy, resources: list[Registered]
) -> list[tuple[str, str]]:
    """(urn, message) of every violation."""
    violations: list[tuple[str, str]] = []
    stack = [
        PolicyResource(
            resource_type=resource.type,
            props=unknown_checking_proxy(resource.inputs),
            urn=resource.urn,
            name=resource.name,
            opts=NO_OPTIONS,
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
        for resource in resources
    ]
    policy.validate(
        StackValidationArgs(stack), lambda message, urn=None: violations.append((urn, message))
    )
    return violations


def is_default_deny_ingress(resource: Registered) -> bool:
    """A NetworkPolicy selecting every pod of its namespace that allows them no ingress."""
    spec = resource.inputs.get("spec", {})
    return (
        resource.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and spec.get("podSelector") == {}
        and "Ingress" in spec.get("policyTypes", [])
        and not spec.get("ingress")
    )
