"""The stack's one SSM parameter: its non-secret settings as JSON (``core.stack_settings``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.core import stack_settings


@dataclass(frozen=True)
class SettingsArgs:
    parameter_name: str
    """``/<slug>/<stage>/settings`` (``naming.settings_parameter``)."""
    document: Mapping[str, Any]
    """The first value (``stack_settings.initial_settings``): payment defaults and, in
    preview, the administrators as the allow-list."""
    label: str
    """What the description calls the stack (``<slug>-<stage>``)."""
    tags: Mapping[str, str]


class Settings(pulumi.ComponentResource):
    """The settings the application reads: one parameter, however many settings.

    Pulumi creates it and then leaves its value to tenantctl (``ignore_changes``):
    Pulumi cannot ignore part of a value, and the allow-list in it is the vendor's
    staff's. tenantctl writes the payment part after every deploy (so payment goes
    live after the whole update, with the portal) and on reset.
    """

    parameter_name: str

    def __init__(
        self, name: str, args: SettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Settings", name, None, opts)
        aws.ssm.Parameter(
            f"{name}-parameter",
            name=args.parameter_name,
            type=stack_settings.TYPE,
            # Named, never the account's default tier: one parameter per stack fits the
            # standard tier's 10,000 per region (not adjustable) and its 4 KB value,
            # checked by ``render`` before anything is written.
            tier=stack_settings.TIER,
            # Not secret, and `promote --dry-run` must show a mode change:
            # `value` would be marked secret and hidden in every diff.
            insecure_value=stack_settings.render(args.document, f"{args.label}'s settings"),
            description=f"Settings of {args.label} (JSON: payment, allowedRecipients)",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["insecureValue"]),
        )
        self.parameter_name = args.parameter_name
        self.register_outputs({"parameter_name": self.parameter_name})
