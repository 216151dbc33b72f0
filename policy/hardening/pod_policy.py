"""A resource policy over the pods of every workload kind: one function that lists
what is wrong with a pod spec, reported once per problem."""

from collections.abc import Callable, Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .workloads import pod_spec

# (resource type, pod spec) -> one message per problem.
PodCheck = Callable[[str, Mapping], list[str]]


def pod_policy(name: str, description: str, check: PodCheck) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        spec = pod_spec(args.resource_type, args.props)
        if spec is None:
            return
        for problem in check(args.resource_type, spec):
            report_violation(problem, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
