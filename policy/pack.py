"""The rules (``policy.rules``) as pulumi-policy policies: what ``policy/__main__.py`` serves.

pulumi-policy gives a policy the inputs the engine sent as a protobuf ``Struct``,
converted with ``json_format.MessageToDict`` (every number a float), secrets unwrapped,
and wrapped in a proxy that raises ``UnknownValueError`` when a policy reads a value the
engine does not know yet; a policy that reads one is skipped for the whole resource (or,
for a stack policy, the whole stack) with an advisory note, whatever else it would have
found. ``engine_inputs`` turns those inputs into plain data with each unknown as
``rules.UNKNOWN``, so every check decides what an unknown means and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy
from pulumi_policy.deserialize import serialize_properties

from policy import rules

NAME = "tenants-policy"
ENFORCEMENT = EnforcementLevel.MANDATORY

ENGINE_UNKNOWNS = frozenset(
    {
        policy_proxy.UNKNOWN_BOOLEAN_VALUE,
        policy_proxy.UNKNOWN_NUMBER_VALUE,
        policy_proxy.UNKNOWN_STRING_VALUE,
        policy_proxy.UNKNOWN_ARRAY_VALUE,
        policy_proxy.UNKNOWN_ASSET_VALUE,
        policy_proxy.UNKNOWN_ARCHIVE_VALUE,
        policy_proxy.UNKNOWN_OBJECT_VALUE,
    }
)
"""How the engine marks a value it does not know yet, one sentinel per kind of value."""


def engine_inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    """A policy's ``props`` as plain data: dicts, lists, floats, ``rules.UNKNOWN``."""
    # serialize_properties unwraps pulumi-policy's proxies without reading through them,
    # so an unknown comes out as its sentinel instead of raising.
    return {str(k): _plain(v) for k, v in serialize_properties(props).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return rules.UNKNOWN if value in ENGINE_UNKNOWNS else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def stack_resource(resource: PolicyResource) -> rules.Resource:
    """One resource of ``StackValidationArgs.resources`` as the stack rules take it."""
    dependencies = {d.name for d in resource.dependencies}
    for deps in resource.property_dependencies.values():
        dependencies.update(d.name for d in deps)
    return rules.Resource(
        resource.resource_type,
        resource.name,
        engine_inputs(resource.props),
        {"protect": resource.opts.protect},
        tuple(sorted(dependencies)),
    )


def _summary(check: Callable[..., Any], name: str) -> str:
    """A rule's description: the first paragraph of its docstring, on one line."""
    paragraph = (check.__doc__ or name).strip().split("\n\n")[0]
    return " ".join(paragraph.split())


def resource_policy(name: str, check: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        options = {"protect": args.opts.protect}
        for message in check(args.resource_type, engine_inputs(args.props), options):
            report(f"{args.name}: {name}: {message}", args.urn)

    return ResourceValidationPolicy(name=name, description=_summary(check, name), validate=validate)


def stack_policy(name: str, check: rules.StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        urns = {r.name: r.urn for r in args.resources}
        resources = [stack_resource(r) for r in args.resources]
        for resource, message in check(resources):
            report(f"{resource}: {name}: {message}", urns.get(resource))

    return StackValidationPolicy(name=name, description=_summary(check, name), validate=validate)


def policies() -> list[Policy]:
    """Every rule of ``policy.rules`` as a policy of the same name."""
    return [
        *(resource_policy(n, c) for n, c in rules.RESOURCE_RULES.items()),
        *(stack_policy(n, c) for n, c in rules.STACK_RULES.items()),
    ]
