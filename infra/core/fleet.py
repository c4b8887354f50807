"""Fleet runs: which stacks go in which wave, the failure budget, and the health gate.

A fleet run applies one operation (``plan``, ``deploy``) to many stacks in waves: a
canary wave of a few stacks first, then waves of growing size (``wave_size``, twice
that, four times that, ...), in the rollout order of ``infra.core.affected`` (previews
before productions). Between waves a health gate decides whether the run goes on:

- the canary wave must succeed whole: a canary that fails is the change's fault until a
  person says otherwise;
- every later wave passes while the run's failures stay within the failure budget
  (``N`` stacks or ``P%`` of the run): a stack that exhausts its retries is marked failed
  and the fleet goes on, never blocked by one client.

A breach pauses the run with the reason; a person retries the failed stacks or approves
going on (which accepts the failures so far). The Temporal workflow in
``infra.ops.fleet`` applies these rules; this module holds them, testable alone.

Pure logic: no Temporal, Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infra.core.affected import DEFAULT_CANARIES, MATRIX_LIMIT, StackRef, rollout_order
from infra.core.errors import UserInputError

OPERATIONS: tuple[str, ...] = ("plan", "deploy", "verify", "preflight", "drift", "reset-preview")
"""What a fleet run can do to each stack: ``plan`` (offline, safe), ``deploy``, ``verify``
(read-only acceptance checks of the served release), ``preflight`` (read-only: the account
and the platform the stack names are ready for it), ``drift`` (read-only: the stack as last
deployed against its stack file and program; a drifted stack fails, the drift named) and
``reset-preview`` (previews whose tenant config opted in with ``nightlyReset: true`` only).
``preflight``, ``drift``, ``plan`` and ``verify`` take no client lock."""

RESET_PREVIEW = "reset-preview"

FINDINGS: frozenset[str] = frozenset({"preflight", "drift"})
"""Read-only operations whose failures are findings about one stack (it drifted, its
platform is not ready), not harm a change does: such a run has no canary and no failure
budget, never pauses, and reports every stack (the failed ones with what was found)."""

NO_BUDGET = "100%"

CI_FLEET_ABOVE = MATRIX_LIMIT
"""The merge pipeline deploys a change that affects more stacks than this with one fleet
run (`scripts/ci/fleet`), not with matrices: more than one GitHub matrix holds."""

DEFAULT_CANARY = DEFAULT_CANARIES
"""Stacks in the canary wave of a fleet run: as many as a CI deploy's canary wave."""

DEFAULT_WAVE_SIZE = 10
"""Stacks in the first wave after the canary; each later wave is ``WAVE_GROWTH`` times larger."""

WAVE_GROWTH = 2

MAX_WAVE_SIZE = 500
"""No wave grows beyond this many stacks, so a gate still comes every few hundred stacks."""

DEFAULT_CONCURRENCY = 10
"""Stack operations of one run in flight at once."""

MAX_CONCURRENCY = 200

DEFAULT_FAILURE_BUDGET = "0"
"""Failed stacks a run tolerates before it pauses: none, unless the person says so."""

_BUDGET = re.compile(r"^(?P<count>\d{1,6})(?P<percent>%?)\Z")


@dataclass(frozen=True)
class FailureBudget:
    """``N`` failed stacks, or ``P%`` of the run's stacks (rounded down)."""

    value: int
    percent: bool

    def allowed(self, total: int) -> int:
        return math.floor(total * self.value / 100) if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}{'%' if self.percent else ''}"


def parse_budget(text: str) -> FailureBudget:
    match = _BUDGET.match(text.strip())
    if match is None or (match["percent"] and int(match["count"]) > 100):
        raise UserInputError(
            f"--failure-budget must be a number of stacks (5) or a percentage (2%), not {text!r}"
        )
    return FailureBudget(int(match["count"]), bool(match["percent"]))


def check_sizes(canary: int, wave_size: int, concurrency: int) -> None:
    """Refuse sizes that make no run: each is checked before anything is submitted."""
    if canary < 0:
        raise UserInputError(f"--canary must be 0 or more, not {canary}")
    if not 1 <= wave_size <= MAX_WAVE_SIZE:
        raise UserInputError(f"--wave-size must be 1 to {MAX_WAVE_SIZE}, not {wave_size}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UserInputError(f"--concurrency must be 1 to {MAX_CONCURRENCY}, not {concurrency}")


def plan_waves(stacks: Iterable[StackRef], canary: int, wave_size: int) -> list[list[StackRef]]:
    """The canary wave (*canary* stacks, when there are more stacks than that), then waves of
    *wave_size*, growing ``WAVE_GROWTH`` times each up to ``MAX_WAVE_SIZE``. Empty waves are
    left out; every stack is in exactly one wave."""
    ordered = rollout_order(stacks)
    waves: list[list[StackRef]] = []
    start = 0
    if 0 < canary < len(ordered):
        waves.append(ordered[:canary])
        start = canary
    size = wave_size
    while start < len(ordered):
        waves.append(ordered[start : start + size])
        start += size
        size = min(size * WAVE_GROWTH, MAX_WAVE_SIZE)
    return waves


def gate(
    *,
    canary: bool,
    wave_failed: Sequence[str],
    failed_total: int,
    allowed: int,
    accepted: bool,
) -> str | None:
    """Why the run must pause after a wave, or None when it may go on.

    *accepted* is a person's approval of this wave's failures (``fleet approve``).
    """
    if failed_total > allowed:
        return (
            f"failure budget breached: {failed_total} stack(s) failed, the budget allows {allowed}"
        )
    if canary and wave_failed and not accepted:
        shown = ", ".join(sorted(wave_failed)[:5])
        return f"the canary failed ({shown}): the change is suspect"
    return None


def run_id(operation: str, stacks: Iterable[str], options: dict[str, object]) -> str:
    """A run's id, deterministic from its intent: the same operation on the same stacks with
    the same options is the same run, so submitting it twice is refused, not run twice."""
    intent = json.dumps(
        {"operation": operation, "stacks": sorted(set(stacks)), "options": options},
        sort_keys=True,
        separators=(",", ":"),
    )
    return f"fleet-{operation}-{hashlib.sha256(intent.encode()).hexdigest()[:12]}"
