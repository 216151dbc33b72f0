"""A resource policy over the pods of every kind that holds them: one function that
lists what is wrong with a pod spec, reported once per problem."""

from collections.abc import Callable, Mapping

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .workloads import pod_specs

# (kind of the object holding the pod, pod spec) -> one message per problem.
PodCheck = Callable[[str, Mapping], list[str]]


def pod_policy(name: str, description: str, check: PodCheck) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for pod in pod_specs(args.resource_type, args.props):
            for problem in check(pod.kind, pod.spec):
                report_violation(f"{pod.prefix}{problem}", None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )
