"""Errors a user can cause. The CLI prints ``str(error)`` as one line and exits non-zero.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations


class TenantctlError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""

    exit_code = 2


class UnknownTenant(TenantctlError):
    """No stack file for the slug/stage asked for."""


class ProductionRefused(TenantctlError):
    """A command that must never touch production was pointed at it."""


class PreconditionFailed(TenantctlError):
    """An operation's precondition is not met (nothing was changed)."""


class ConflictError(TenantctlError):
    """The requested change conflicts with what is already there (nothing was changed)."""


class EnvironmentProblem(TenantctlError):
    """Something the operation needs from the environment is missing (CLI, endpoint, URL)."""
