"""``tenantctl rollout accept``: the client's acceptance of a verify run, and what it gates.

Named *accept*, not *sign-off*: in this project sign-off is the contract's (phase 1,
``infra.ops.rollout.signoff``, the ``contract-signoff`` milestone, ``--signed-off``);
accepting a verify run is the client's user-acceptance of the tested release, a
different act with a different record.

The verify runs and acceptances are rows of the rollout's append-only history
(``verify`` rows written by ``infra.ops.rollout.evidence``, ``accept`` rows here).
What a promotion would carry (preview's served release, the hash of its files and of
each configuration table) is read from the preview handle; the rule comparing them is
``infra.core.acceptance``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from infra.core import naming
from infra.core import verify_checks as vc
from infra.core.acceptance import (
    AcceptedRun,
    VerifiedState,
    acceptance_problems,
    release_change,
)
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.rollout import Observation
from infra.ops.adapters import control
from infra.ops.rollout.evidence import ACTION as VERIFY_ACTION
from infra.ops.rollout.store import append_history, find, lock_row
from infra.ops.rollout.transitions import Change
from infra.ops.stacks.handle import StackHandle
from infra.ops.stacks.opening import open_from_files
from infra.ops.verify.configuration import config_state
from infra.ops.verify.show import read_evidence

ACTION = "accept"


def _verify_rows(conn: psycopg.Connection, rollout_id: int) -> list[tuple[str, dict[str, Any]]]:
    """Every recorded verify run of preview, newest first: ``(run id, detail)``."""
    rows = conn.execute(
        "SELECT subject, detail FROM history WHERE rollout_id = %s AND action = %s "
        "AND detail->>'stage' = %s ORDER BY id DESC",
        (rollout_id, VERIFY_ACTION, naming.PREVIEW),
    ).fetchall()
    return [(str(subject), dict(detail)) for subject, detail in rows]


def latest_acceptance(conn: psycopg.Connection, rollout_id: int) -> AcceptedRun | None:
    row = conn.execute(
        "SELECT subject, actor, at, detail FROM history WHERE rollout_id = %s AND action = %s "
        "ORDER BY id DESC LIMIT 1",
        (rollout_id, ACTION),
    ).fetchone()
    if row is None:
        return None
    run_id, _actor, at, detail = row
    return _accepted(str(run_id), str(detail.get("by") or _actor), at, dict(detail))


def _accepted(run_id: str, by: str, at: datetime, detail: dict[str, Any]) -> AcceptedRun:
    return AcceptedRun(
        run_id,
        by,
        at,
        bool(detail.get("passed")),
        VerifiedState.from_json(detail),
        str(detail.get("bundleHash", "")),
    )


def served_state(preview: StackHandle) -> tuple[VerifiedState, str]:
    """What a promotion would carry now: preview's served release (and what made it) and
    its configuration. Read-only."""
    current = preview.content.current()
    release = preview.content.release(current.release) if current else None
    if current is None or release is None:
        raise PreconditionFailed(f"{preview.stack_name} serves no release")
    config_hash, tables = config_state(preview.working_url)
    state = VerifiedState(release.id, vc.release_content_hash(release.files), config_hash, tables)
    return state, release.source


def observe_testing(preview: StackHandle) -> Observation:
    """``verify-passed``: done when the latest verify of the release preview serves passed."""
    current = preview.content.current()
    release = preview.content.release(current.release) if current else None
    if current is None or release is None:
        return Observation("not-done", "preview serves no release")
    with control.connect() as conn:
        runs = _verify_rows(conn, find(conn, preview.spec.slug).id)
    of_release = [(rid, d) for rid, d in runs if d.get("release") == current.release]
    if not of_release:
        last = f"; the last run checked {runs[0][1].get('release')}" if runs else ""
        return Observation(
            "not-done",
            f"no verify run of release {current.release} (from "
            f"{release_change(release.source)}{last}): `tenantctl verify {preview.spec.slug}`",
        )
    run_id, detail = of_release[0]
    if not detail.get("passed"):
        return Observation("not-done", f"verify run {run_id} of {current.release} failed")
    return Observation("done", f"verify run {run_id} of {current.release} passed")


def acceptance_observation(preview: StackHandle) -> Observation:
    """``verify-accepted``: done when the latest acceptance still covers what promote carries."""
    with control.connect() as conn:
        accepted = latest_acceptance(conn, find(conn, preview.spec.slug).id)
    now, source = served_state(preview)
    problems = acceptance_problems(preview.spec.slug, accepted, now, source)
    if problems:
        return Observation("not-done", "; ".join(problems))
    assert accepted is not None
    return Observation(
        "done",
        f"run {accepted.run_id} of release {now.release} accepted by {accepted.by} "
        f"{accepted.at.date().isoformat()}",
    )


def accept_run(
    stacks_dir: Path, client: str, run_id: str, by: str, note: str | None = None
) -> Change:
    """Record *by*'s acceptance of verify run *run_id* of *client*'s preview.

    Refuses a run the rollout history does not record, one of production, one that
    failed, and one whose evidence in the bucket no longer matches the recorded hash."""
    if not vc.RUN_ID_PATTERN.fullmatch(run_id):
        raise UserInputError(
            f"--evidence {run_id!r} is not a verify run id (like 20261207T020000Z-1a2b3c); "
            f"`tenantctl verify show {client}` shows the latest"
        )
    preview = open_from_files(stacks_dir, client, naming.PREVIEW)
    with control.connect() as conn, conn.transaction():
        row = lock_row(conn, client, None)
        found = conn.execute(
            "SELECT detail FROM history WHERE rollout_id = %s AND action = %s AND subject = %s "
            "ORDER BY id DESC LIMIT 1",
            (row.id, VERIFY_ACTION, run_id),
        ).fetchone()
        if found is None:
            raise UserInputError(
                f"no verify run {run_id} in the rollout of {client}: accept a run "
                f"`tenantctl verify {client}` recorded (with TENANTCTL_CONTROL_DATABASE_URL set)"
            )
        detail = dict(found[0])
        if detail.get("stage") != naming.PREVIEW:
            raise PreconditionFailed(
                f"run {run_id} verified {detail.get('stage')}; the client accepts a run of "
                f"preview (`tenantctl verify {client}`)"
            )
        if not detail.get("passed"):
            raise PreconditionFailed(
                f"run {run_id} failed; fix what it names (`tenantctl verify show {client} "
                f"--run {run_id}`), verify again and accept the passing run"
            )
        evidence = read_evidence(preview, run_id)
        if evidence.bundle_hash != detail.get("bundleHash") or evidence.tampered:
            raise PreconditionFailed(
                f"the evidence of run {run_id} no longer matches what was recorded "
                f"(sha256 {detail.get('bundleHash')}); verify again and accept the new run"
            )
        append_history(
            conn,
            row.id,
            by,
            ACTION,
            run_id,
            {
                "by": by,
                "note": note,
                "stage": naming.PREVIEW,
                "passed": True,
                "release": detail.get("release"),
                "contentHash": detail.get("contentHash"),
                "configHash": detail.get("configHash"),
                "configTables": detail.get("configTables") or {},
                "bundle": detail.get("bundle"),
                "bundleHash": detail.get("bundleHash"),
            },
        )
    return Change(
        client,
        row.contract,
        ACTION,
        run_id,
        True,
        f"{by} accepted verify run {run_id} of {client} (release {detail.get('release')}, "
        f"evidence sha256 {detail.get('bundleHash')})",
    )


def go_live_reference(conn: psycopg.Connection, rollout_id: int) -> dict[str, str] | None:
    """The accepted run billing's go-live milestone names (``None`` when there is none)."""
    accepted = latest_acceptance(conn, rollout_id)
    if accepted is None:
        return None
    return {
        "runId": accepted.run_id,
        "acceptedBy": accepted.by,
        "release": accepted.state.release,
        "bundleHash": accepted.bundle_hash,
    }
