"""Hosted payment configuration: non-secret SSM parameters and an empty credentials secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.core import naming
from infra.core.providers import CREDENTIAL_FIELDS, PROVIDERS
from infra.program.options import stateful

PARAMETER_TIER = "Intelligent-Tiering"
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
    parameter_path: str
    """``/<slug>/<stage>/payment/``; each setting is a parameter under it."""
    settings: Mapping[str, str]
    """Setting key (``mode``, ``merchant-id``...) -> value (``payment_settings``)."""
    label: str
    """What descriptions call the stack (``<slug>-<stage>``)."""
    recovery_days: int
    durable: bool
    """Production: the secret is protected and retained (``options.stateful``)."""
    kms_key_arn: pulumi.Input[str]
    tags: Mapping[str, str]
    go_live: Sequence[pulumi.Resource] = ()
    """What the portal's opening waits for (``Domains.go_live``): the payment mode changes
    only after it, and tenantctl opens the portal's route only after the whole update, so
    payment goes live with the portal, never before (a failed go-live leaves sandbox)."""


class Payments(pulumi.ComponentResource):
    """The payment settings the application reads, and the secret its credentials go in.

    The secret is created without a value on purpose: ``tenantctl payment
    set-credentials`` writes it from stdin or the environment, so the provider's
    keys never pass through Pulumi config or state.
    """

    secret_arn: pulumi.Output[str]
    secret_name: str
    parameter_path: str
    parameter_names: dict[str, str]
    """Setting key (``mode``, ``merchant-id``...) -> full SSM parameter name."""
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

        settings = dict(args.settings)
        names = {key: args.parameter_path + key for key in settings}
        for key, value in settings.items():
            aws.ssm.Parameter(
                f"{name}-{key}",
                name=names[key],
                type="String",
                # 1,000 clients use 14,000 parameters; the standard tier holds 10,000 per
                # region and cannot be raised. Intelligent-Tiering stays standard (free)
                # while that quota lasts and uses the advanced tier after it.
                tier=PARAMETER_TIER,
                # Not secret, and `promote --dry-run` must show a mode change:
                # `value` would be marked secret and hidden in every diff.
                insecure_value=value,
                description=f"Payment {key} of {args.label}",
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=list(args.go_live),
                ),
            )

        self.secret_arn = secret.arn
        self.secret_name = secret_name
        self.parameter_path = args.parameter_path
        self.parameter_names = names
        self.mode = settings["mode"]
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "secret_name": self.secret_name,
                "parameter_path": self.parameter_path,
                "parameter_names": self.parameter_names,
                "mode": self.mode,
            }
        )
