"""The client's acceptance of a verify run, and whether it still holds for a promotion.

Pure logic. A verify run names what it checked: the release, the SHA-256 of the
release's file manifest, and a SHA-256 per configuration table (``VerifiedState``). The
client accepts one passing run of preview (``tenantctl rollout accept``). Promotion
carries preview's served release and its configuration tables, so the acceptance holds
only while those are exactly what the run checked; any change since (a content push, a
configuration edit or import, a reset) breaks it, and ``acceptance_problems`` says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class VerifiedState:
    """What a verify run checked, or what a promotion would carry now."""

    release: str
    content_hash: str
    config_hash: str
    config_tables: Mapping[str, str] = field(default_factory=dict)
    """SHA-256 of each configuration table's rows."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerifiedState:
        return cls(
            str(data.get("release", "")),
            str(data.get("contentHash", "")),
            str(data.get("configHash", "")),
            dict(data.get("configTables") or {}),
        )


@dataclass(frozen=True)
class AcceptedRun:
    """The client's acceptance of one verify run: who, when, and what the run checked."""

    run_id: str
    by: str
    at: datetime
    passed: bool
    state: VerifiedState
    bundle_hash: str = ""


def release_change(source: str) -> str:
    """What made a release, in the words of the command that did (its ``source``)."""
    if source.startswith("reset"):
        return "a reset-preview"
    if source.startswith("push"):
        return "a content push"
    return source or "unknown"


def changed_tables(accepted: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    return sorted(t for t in set(accepted) | set(now) if accepted.get(t) != now.get(t))


def acceptance_problems(
    slug: str, accepted: AcceptedRun | None, now: VerifiedState, now_source: str
) -> list[str]:
    """Why *accepted* does not cover what a promotion would carry (*now*, whose release was
    made by *now_source*); empty when it does."""
    if accepted is None:
        return [
            f"no verify run of preview accepted yet (`tenantctl verify {slug}`, then "
            f"`tenantctl rollout accept {slug} --by NAME --evidence RUN`)"
        ]
    run = f"run {accepted.run_id} accepted by {accepted.by}"
    problems: list[str] = []
    if not accepted.passed:
        problems.append(f"{run} did not pass")
    then = accepted.state
    if now.release != then.release:
        problems.append(
            f"preview serves release {now.release} (from {release_change(now_source)}), "
            f"not {then.release} that {run} checked; verify and accept again"
        )
    elif now.content_hash != then.content_hash:
        problems.append(f"release {now.release}'s files differ from what {run} checked")
    if now.config_hash != then.config_hash:
        tables = changed_tables(then.config_tables, now.config_tables)
        which = f" ({', '.join(tables)})" if tables else ""
        problems.append(
            f"preview's configuration changed{which} since {run}; verify and accept again"
        )
    return problems
