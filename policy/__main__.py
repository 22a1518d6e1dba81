"""The TradAI policy pack: the rules of tradai_nb.review.policy as CrossGuard policies, for the Pulumi CLI."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from tradai_nb import config
from tradai_nb.review import policy

PACK_NAME = "tradai-estate"
LEVELS = {policy.MANDATORY: EnforcementLevel.MANDATORY, policy.ADVISORY: EnforcementLevel.ADVISORY}


def _names(urn: str) -> tuple[str, str]:
    """(stack, environment) from a URN: urn:pulumi:<environment>::tradai-<stack>::<type>::<name>."""
    parts = urn.split("::")
    environment = parts[0].rsplit(":", 1)[-1]
    stack = parts[1].removeprefix(f"{config.PROJECT_NAME}-") if len(parts) > 1 else ""
    return stack, environment


def _resource(resource_type: str, name: str, urn: str, props, opts, dependencies=()) -> policy.Resource:
    stack, _ = _names(urn)
    # The CLI tells a pack whether a resource is protected, not whether it is retained on delete.
    return policy.Resource(stack=stack, type=resource_type, name=name, urn=urn, inputs=dict(props),
                           protect=bool(getattr(opts, "protect", False)), retain_on_delete=None,
                           dependencies=tuple(dependencies))


def _resource_validation(rule: policy.Rule):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        _, environment = _names(args.urn)
        resource = _resource(args.resource_type, args.name, args.urn, args.props, args.opts)
        for message in rule.resource_check(resource, environment):
            report_violation(message, None)
    return validate


def _stack_validation(rule: policy.Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [_resource(r.resource_type, r.name, r.urn, r.props, r.opts, (d.urn for d in r.dependencies))
                     for r in args.resources]
        environment = _names(resources[0].urn)[1] if resources else ""
        for resource, message in rule.stack_check(resources, environment):
            report_violation(message, resource.urn if resource is not None else None)
    return validate


def policies() -> list:
    """One CrossGuard policy per rule, with the rule's name, description and enforcement level."""
    built = []
    for rule in policy.RULES:
        if rule.resource_check is not None:
            built.append(ResourceValidationPolicy(name=rule.name, description=rule.description,
                                                  enforcement_level=LEVELS[rule.level],
                                                  validate=_resource_validation(rule)))
        else:
            built.append(StackValidationPolicy(name=rule.name, description=rule.description,
                                               enforcement_level=LEVELS[rule.level],
                                               validate=_stack_validation(rule)))
    return built


# Constructing the pack serves it to the CLI over gRPC until the CLI is done with it.
PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.MANDATORY)
