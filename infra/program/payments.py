"""Hosted payment configuration: the empty credentials secret.

The non-secret payment settings are the ``payment`` key of the stack's settings
parameter (``infra.program.settings``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming
from infra.core.providers import CREDENTIAL_FIELDS, PROVIDERS
from infra.program.options import stateful

SECRET_RECOVERY_DAYS: dict[naming.Stage, int] = {"preview": 0, "production": 30}
"""A deleted production secret stays recoverable for the longest window AWS allows (and is
retained anyway). A preview's is deleted at once (0: no recovery window) when the preview
is destroyed on purpose, so a client re-created under the same slug can create its secret
again; its sandbox credentials are set again with ``payment set-credentials``."""


@dataclass(frozen=True)
class PaymentsArgs:
    provider: str
    """A key of ``infra.core.providers.PROVIDERS``."""
    secret_name: str
    mode: str
    """sandbox or live (``TenantSpec.payment_mode``)."""
    label: str
    """What descriptions call the stack (``<slug>-<stage>``)."""
    recovery_days: int
    durable: bool
    """Production: the secret is protected and retained (``options.stateful``)."""
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]


class Payments(pulumi.ComponentResource):
    """The secret the payment provider's credentials go in.

    The secret is created without a value on purpose: ``tenantctl payment
    set-credentials`` writes it from stdin or the environment, so the provider's
    keys never pass through Pulumi config or state.
    """

    secret_arn: pulumi.Output[str]
    secret_name: str
    mode: str

    def __init__(
        self, name: str, args: PaymentsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenants:index:Payments", name, None, opts)
        provider = PROVIDERS[args.provider]
        secret_name = args.secret_name

        secret = aws.secretsmanager.Secret(
            f"{name}-credentials",
            name=secret_name,
            description=(
                f"{provider.title} credentials of {args.label} as JSON "
                f"({', '.join(CREDENTIAL_FIELDS)}); set with `{naming.TOOL} payment "
                "set-credentials`, never through Pulumi."
            ),
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=args.recovery_days,
            tags=dict(args.tags),
            # Holds live credentials Pulumi never sees and so could never restore.
            opts=stateful(self, args.durable),
        )

        self.secret_arn = secret.arn
        self.secret_name = secret_name
        self.mode = args.mode
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "secret_name": self.secret_name,
                "mode": self.mode,
            }
        )
