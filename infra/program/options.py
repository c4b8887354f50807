"""Resource options shared by the components."""

from __future__ import annotations

import pulumi


def stateful(parent: pulumi.Resource, durable: bool, **extra: object) -> pulumi.ResourceOptions:
    """Options of a resource holding what Pulumi cannot recreate (data, accounts, secrets).

    *durable* (production): ``protect`` makes any delete or replacement fail, whether
    from ``pulumi destroy`` or from a change that forces replacement (a new platform KMS
    key); ``retain_on_delete`` leaves the resource in AWS even after it is unprotected
    and removed from the program. Doing either on purpose is documented in the README
    ("Destructive changes").
    """
    return pulumi.ResourceOptions(
        parent=parent,
        protect=durable,
        retain_on_delete=durable,
        **extra,  # type: ignore[arg-type]
    )


def retained(parent: pulumi.Resource, durable: bool) -> pulumi.ResourceOptions:
    """Options of what a person may remove on purpose but a destroy must not take:
    production's groups, administrator accounts and memberships. Retained on delete,
    not protected, so taking an administrator out of the stack file still deploys; the
    account stays in the pool (README, "Destructive changes": disable it there)."""
    return pulumi.ResourceOptions(parent=parent, retain_on_delete=durable)
