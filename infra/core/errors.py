"""Errors a user or the environment can cause, and the exit code of each kind.

The CLI prints ``str(error)`` as one line and exits with the error's
``exit_code``. The codes are part of the interface (CI pipelines branch on
them), documented in the README from ``EXIT_CODES`` and asserted in tests.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """One exit code per kind of failure; stable across releases."""

    OK = 0
    INTERNAL = 1
    BAD_INPUT = 2
    PRECONDITION = 3
    LOCKED = 4
    UNREACHABLE = 5
    CHANGES = 6
    LOCAL_IO = 7
    DEPLOY_FAILED = 8
    LIVE_CHECK_FAILED = 9
    NEEDS_PERSON = 10
    INTERRUPTED = 130


EXIT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "done (or, for a dry run, nothing would change)",
    ExitCode.INTERNAL: "a bug in tenantctl: the message names a log file with the details",
    ExitCode.BAD_INPUT: "bad input: an argument, option, tenant file or stack file is invalid",
    ExitCode.PRECONDITION: (
        "a precondition is not met (nothing was changed); the message says what to do first"
    ),
    ExitCode.LOCKED: "another operation holds this client's lock; the message names it",
    ExitCode.UNREACHABLE: (
        "a dependency could not be reached (AWS endpoint, PostgreSQL, Pulumi backend); "
        "safe to retry"
    ),
    ExitCode.CHANGES: "changes detected, where a dry run or drift check was asked to say so",
    ExitCode.LOCAL_IO: "a local file could not be read or written (permissions, full disk)",
    ExitCode.DEPLOY_FAILED: "`pulumi up` ran and failed; its own output says why; re-run to resume",
    ExitCode.LIVE_CHECK_FAILED: (
        "the launch was done, but the read-only verify of the live stack right after it "
        "failed; the message names the failed check and the rollback command"
    ),
    ExitCode.NEEDS_PERSON: (
        "a fleet run waits for a person (an approval, a breached health gate or failure "
        "budget, a pause); the message is the exact command to run"
    ),
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C or SIGTERM); re-run the same command to resume",
}
"""What each exit code means: the README table is generated from this."""


class TenantctlError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class UserInputError(TenantctlError):
    """An argument, option or file the user gave is invalid."""


class UnknownTenant(TenantctlError):
    """No stack file for the slug/stage asked for."""


class ProductionRefused(TenantctlError):
    """A command that must never touch production was pointed at it."""


class PreconditionFailed(TenantctlError):
    """An operation's precondition is not met (nothing was changed)."""

    exit_code = ExitCode.PRECONDITION


class ConflictError(TenantctlError):
    """The requested change conflicts with what is already there (nothing was changed)."""

    exit_code = ExitCode.PRECONDITION


class EnvironmentProblem(TenantctlError):
    """Something the operation needs from the environment is missing (CLI, setting)."""

    exit_code = ExitCode.PRECONDITION


class LockHeld(TenantctlError):
    """Another operation holds the client's lock (nothing was changed)."""

    exit_code = ExitCode.LOCKED


class DependencyUnreachable(TenantctlError):
    """AWS, PostgreSQL or the Pulumi backend could not be reached; safe to retry."""

    exit_code = ExitCode.UNREACHABLE


class ChangesDetected(TenantctlError):
    """A dry run or drift check found changes, and the caller asked for a non-zero exit."""

    exit_code = ExitCode.CHANGES


class LocalIOError(TenantctlError):
    """A local file or folder could not be read or written."""

    exit_code = ExitCode.LOCAL_IO


class LiveCheckFailed(TenantctlError):
    """Promote went live, and the verify of production right after it failed."""

    exit_code = ExitCode.LIVE_CHECK_FAILED


class NeedsPerson(TenantctlError):
    """A fleet run rests until a person approves, retries or resumes it (nothing failed)."""

    exit_code = ExitCode.NEEDS_PERSON


class DeployFailed(TenantctlError):
    """``pulumi up`` ran and failed; its own output (already streamed) says why."""

    exit_code = ExitCode.DEPLOY_FAILED
