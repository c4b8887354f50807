"""What travels between the CLI, the workflow and its activity (Temporal serialises these
dataclasses as JSON): a run's intent, one stack's task, and what a finished stack reports.

Kept apart from the workflow so the activity and the client import no workflow code.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKFLOW = "FleetRun"
ACTIVITY = "run_stack"

APPROVE_SIGNAL = "approve"
RETRY_SIGNAL = "retry"
CANCEL_SIGNAL = "cancel"
PAUSE_SIGNAL = "pause"
RESUME_SIGNAL = "resume"
STATUS_QUERY = "status"

USER_ERROR = "StackUserError"
"""The error type of an operation that failed because of its input (exit 2 or 3): retrying
cannot help, so the retry policy gives up at once."""

STACK_FAILED = "StackFailed"

# A run's states, as `fleet status` shows them.
RUNNING = "running"
AWAITING_APPROVAL = "awaiting-approval"
PAUSED = "paused"
DONE = "done"
CANCELLED = "cancelled"

# A stack's states.
PENDING = "pending"
STARTED = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass
class RunSpec:
    """A fleet run's intent, fixed at submission; ``stacks`` in rollout order."""

    operation: str
    stacks: list[str]
    canary: int
    wave_size: int
    concurrency: int
    failure_budget: str
    approve_between_waves: bool
    max_attempts: int = 3
    """Attempts per stack before it is marked failed (exit 2 and 3 are never retried)."""
    first_retry_seconds: float = 10.0
    max_retry_seconds: float = 120.0
    """The cap of the exponential backoff: a stack never waits longer than this between
    attempts (never a frozen, day-long backoff)."""
    heartbeat_seconds: float = 30.0
    """A stack whose worker stops heartbeating this long is retried elsewhere."""
    timeout_seconds: float = 3600.0
    """One attempt of one stack's operation (a `pulumi up`) may take this long."""


@dataclass
class StackTask:
    operation: str
    stack: str


@dataclass
class StackDone:
    stack: str
    seconds: float
