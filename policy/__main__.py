"""The policy pack: ``pulumi preview --policy-pack policy`` runs the rules in ``policy.rules``.

The engine gives no ``retainOnDelete`` to policies, so that half of the
production-protection rule runs in the tests (over the mock-runtime plans) only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for infra.core

from policy import rules


def _resource_policy(name: str, check: rules.ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        options = {"protect": args.opts.protect}
        for message in check(args.resource_type, args.props, options):
            report(f"{args.name}: {name}: {message}", None)

    return ResourceValidationPolicy(name=name, description=check.__doc__ or name, validate=validate)


def _stack_policy(name: str, check: Any) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [
            rules.Resource(r.resource_type, r.name, r.props, {"protect": r.opts.protect})
            for r in args.resources
        ]
        for resource, message in check(resources):
            report(f"{resource}: {name}: {message}", None)

    return StackValidationPolicy(name=name, description=check.__doc__ or name, validate=validate)


PolicyPack(
    name="tenants-policy",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *(_resource_policy(n, c) for n, c in rules.RESOURCE_RULES.items()),
        *(_stack_policy(n, c) for n, c in rules.STACK_RULES.items()),
    ],
)
