"""Issue 8's robustness families against the real systems (moto server, PostgreSQL 15).

Each family counts its cases and asserts zero tracebacks, zero invalid inputs
accepted, zero broken states and zero production changes; ``-s`` prints the
counts (``pytest -m robustness -s``).

- concurrency: pairs of every mutating command on one client, as real processes;
  the second is started while the first holds the lock (paused at a checkpoint)
- kills: SIGKILL of reset, undo, promote and create at every checkpoint and at
  random moments, then a re-run (or an undo) and the state invariants
- dependency faults: PostgreSQL or AWS unreachable, either dying mid-run (a TCP
  proxy cut at a checkpoint), a read-only stacks folder, a full disk, a bad region
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from moto import settings as moto_settings

from infra.core import naming
from tests.helpers import (
    EXAMPLE,
    LIVE,
    SLUG,
    bucket_bytes,
    cli,
    db_url,
    edit_preview,
    ok,
    served,
    store,
    tables,
    with_platform,
)
from tests.robustness_support import (
    Counts,
    Proxy,
    Run,
    broken_state,
    free_port,
    leftovers,
    lock_value,
    looks_like_traceback,
    rows,
    run,
)

pytestmark = pytest.mark.robustness

RESET = ["reset-preview", SLUG, "--yes"]
UNDO = ["reset-preview", SLUG, "--undo", "--yes"]
PROMOTE = ["promote", SLUG, "--yes"]
ROLLBACK = ["promote", SLUG, "--rollback", "--yes"]
CREDENTIALS = ["payment", "set-credentials", SLUG, "--stage", "production"]
CREATE = ["create", SLUG, "--from", str(EXAMPLE)]


def production_snapshot(pg_url: str) -> tuple[Any, ...]:
    return bucket_bytes("production"), tables(db_url(pg_url, "production"))


def preview_snapshot(pg_url: str) -> tuple[Any, ...]:
    return served("preview"), rows(db_url(pg_url, "preview"))


def defaults_snapshot(pg_url: str) -> tuple[Any, ...]:
    defaults = naming.defaults_database_name(SLUG, "preview")
    from infra.ops.adapters.database import database_url

    return store("preview").defaults_manifest(), rows(database_url(pg_url, defaults))


def bump_preview(pg_url: str) -> None:
    """A further configuration change in preview, so the next promote has something to carry."""
    import psycopg

    with psycopg.connect(db_url(pg_url, "preview")) as conn:
        conn.execute("UPDATE config.lots SET capacity = capacity + 1")


def note_state(counts: Counts, pg_url: str, where: str) -> None:
    problems = broken_state(pg_url, SLUG)
    if problems:
        counts.broken_states += 1
        counts.details.append(f"{where}: {problems}")


def note_exit(counts: Counts, where: str, got: tuple[int, str, str], want: set[int]) -> None:
    code, out, err = got
    if looks_like_traceback(code, out + err):
        counts.tracebacks += 1
        counts.details.append(f"{where}: traceback/bug exit {code}: {err[-300:]}")
    elif code not in want:
        counts.broken_states += 1
        counts.details.append(f"{where}: exit {code}, wanted {sorted(want)}: {err[-300:]}")


# ----------------------------------------------------------------------- concurrency


def test_concurrent_pairs_let_exactly_one_proceed(ready: Path, pg_env: str):
    counts = Counts("concurrency")

    def pair(first: list[str], second: list[str], name: str, **kwargs: Any) -> None:
        holder = Run(first, ready, pause_at="lock-acquired", **kwargs)
        assert holder.wait_for_checkpoint("lock-acquired"), holder.finish()
        code, out, err = run(second, ready, **kwargs)
        counts.cases += 1
        note_exit(counts, f"{name}: second", (code, out, err), {4})
        if code == 4:
            message = err.strip().splitlines()[-1]
            if not ("locked by" in message and first[0] in message and "since" in message):
                counts.broken_states += 1
                counts.details.append(f"{name}: lock message lacks who/what/when: {message}")
        holder.resume()
        note_exit(counts, f"{name}: first", holder.finish(), {0})
        note_state(counts, pg_env, name)
        if lock_value(SLUG) is not None:
            counts.broken_states += 1
            counts.details.append(f"{name}: the lock was left behind")

    pair(RESET, RESET, "reset/reset")
    pair(RESET, UNDO, "reset/undo")
    pair(UNDO, RESET, "undo/reset")
    edit_preview(pg_env, "second edit")
    pair(PROMOTE, PROMOTE, "promote/promote")
    pair(ROLLBACK, PROMOTE, "rollback/promote")
    pair(PROMOTE, RESET, "promote/reset")
    pair(RESET, PROMOTE, "reset/promote")
    pair(CREDENTIALS, CREDENTIALS, "credentials/credentials", stdin=LIVE)
    pair(CREATE, CREATE, "create/create")
    pair(CREATE, RESET, "create/reset")

    # Unpaused starts at the same moment: any interleaving, never a broken state.
    for name, (a, b) in {
        "race reset/reset": (RESET, RESET),
        "race reset/undo": (RESET, UNDO),
    }.items():
        runs = [Run(a, ready), Run(b, ready)]
        for index, r in enumerate(runs):
            counts.cases += 1
            note_exit(counts, f"{name} #{index}", r.finish(), {0, 3, 4})
        note_state(counts, pg_env, name)
    records = [k for k in bucket_bytes("production") if k.startswith("tenantctl/promotions/")]
    if len(records) != 2:  # promote/promote: one; promote/reset after the rollback: one more
        counts.broken_states += 1
        counts.details.append(f"{len(records)} promotion records, expected 2")
    counts.check()


def test_a_dead_holders_lock_is_taken_over_by_the_re_run_and_named(ready: Path, pg_env: str):
    holder = Run(RESET, ready, pause_at="lock-acquired")
    assert holder.wait_for_checkpoint("lock-acquired")
    dead = holder.proc.pid
    holder.kill()

    code, out, err = run([*RESET, "--json"], ready)

    assert code == 0, err
    assert f"took over the stale lock of {SLUG}: reset-preview by" in err
    assert f"process {dead} on this host is gone" in err
    takeovers = json.loads(out)["lockTakeovers"]
    assert [t["reason"] for t in takeovers] == [f"process {dead} on this host is gone"]
    assert lock_value(SLUG) is None
    assert broken_state(pg_env, SLUG) == []


def test_a_live_lock_is_broken_only_with_a_reason_and_its_holder_stops(ready: Path):
    holder = Run(RESET, ready, pause_at="lock-acquired")
    assert holder.wait_for_checkpoint("lock-acquired")
    code, _, err = run(RESET, ready)
    assert code == 4 and "reset-preview" in err and "--break-lock REASON" in err

    code, _, err = run([*RESET, "--break-lock", "stuck CI job"], ready)
    assert code == 0, err
    assert "broke the lock" in err and "broken by hand: stuck CI job" in err
    holder.resume()
    code, _, err = holder.finish()
    assert code == 4 and "taken over" in err  # stopped at its next step, changed nothing


def test_reads_do_not_wait_for_the_lock(ready: Path):
    holder = Run(PROMOTE, ready, pause_at="lock-acquired")
    assert holder.wait_for_checkpoint("lock-acquired")
    for args in (["status", SLUG, "--json"], ["list", "--json"], ["promote", SLUG, "--dry-run"]):
        code, _, err = run(args, ready)
        assert code == 0, err
    holder.resume()
    assert holder.finish()[0] == 0


# ----------------------------------------------------------------------------- kills


RESET_POINTS = ["lock-acquired", "reset-built", "reset-swapped", "reset-content", "reset-finished"]


def test_reset_killed_anywhere_resumes_or_undoes_to_the_state_before(ready: Path, pg_env: str):
    counts = Counts("kill-reset")
    rng = random.Random(8)
    production = production_snapshot(pg_env)
    edited = preview_snapshot(pg_env)
    defaults = defaults_snapshot(pg_env)
    # Random moments inside a reset: as fractions of how long an uninterrupted one takes
    # here and now (a fixed number of seconds would fall after the end on a fast machine,
    # and the "re-run" would then be a second, complete reset).
    started = time.monotonic()
    note_exit(counts, "timed reset", run(RESET, ready), {0})
    duration = time.monotonic() - started
    note_exit(counts, "timed undo", run(UNDO, ready), {0})
    assert preview_snapshot(pg_env) == edited
    moments: list[tuple[str, Any]] = [("at", p) for p in RESET_POINTS]
    moments += [("after", round(rng.uniform(0.2, 0.8) * duration, 2)) for _ in range(3)]

    def kill(moment: tuple[str, Any]) -> bool:
        """Kill a reset at *moment*; False when it had already finished (not a kill)."""
        kind, where = moment
        if kind == "at":
            r = Run(RESET, ready, pause_at=where)
            reached = r.wait_for_checkpoint(where)
            assert reached, r.finish()
        else:
            r = Run(RESET, ready)
            time.sleep(where)
            if r.proc.poll() is not None:  # done before the kill: a complete reset
                r.finish()
                note_exit(counts, f"undo after a finished reset {moment}", run(UNDO, ready), {0})
                return False
        r.kill()
        counts.cases += 1
        note_state(counts, pg_env, f"killed {moment}")
        return True

    for moment in moments:
        # 1. killed, then the same reset again: defaults, and undo brings the edits back
        if not kill(moment):
            continue
        note_exit(counts, f"rerun {moment}", run(RESET, ready), {0})
        if (served("preview"), rows(db_url(pg_env, "preview"))) != (
            defaults[0],
            defaults[1],
        ):
            counts.broken_states += 1
            counts.details.append(f"{moment}: re-run reset did not give defaults")
        note_exit(counts, f"undo {moment}", run(UNDO, ready), {0})
        after_undo = preview_snapshot(pg_env)
        if after_undo != edited:
            counts.broken_states += 1
            which = "content" if after_undo[0] != edited[0] else "database"
            counts.details.append(
                f"{moment}: undo after a re-run did not restore the edits ({which} differs)"
            )
        # 2. killed, then undo at once: back to the state before the interrupted reset
        if not kill(moment):
            continue
        note_exit(counts, f"undo-after-kill {moment}", run(UNDO, ready), {0, 3})
        if preview_snapshot(pg_env) != edited:
            counts.broken_states += 1
            counts.details.append(f"{moment}: undo after a kill did not restore the edits")
        note_state(counts, pg_env, f"after undo {moment}")
        if leftovers(pg_env, SLUG):
            counts.broken_states += 1
            counts.details.append(f"{moment}: leftovers {leftovers(pg_env, SLUG)}")
    if production_snapshot(pg_env) != production:
        counts.production_changes += 1
    counts.check()


def test_undo_killed_after_its_swap_finishes_on_a_re_run(ready: Path, pg_env: str):
    edited = preview_snapshot(pg_env)
    ok(cli(ready, *RESET))
    r = Run(UNDO, ready, pause_at="undo-swapped")
    assert r.wait_for_checkpoint("undo-swapped")
    r.kill()
    assert broken_state(pg_env, SLUG) == []
    code, _, err = run(UNDO, ready)
    assert code == 0, err
    assert preview_snapshot(pg_env) == edited


def test_promote_killed_at_every_step_and_at_random_finishes_once(ready: Path, pg_env: str):
    from infra.ops.lifecycle.promote import STEPS

    counts = Counts("kill-promote")
    pre_launch = production_snapshot(pg_env)
    pre_launch_served = served("production")
    for step in STEPS:  # one promotion, killed once at each step, each re-run resuming
        r = Run(
            PROMOTE,
            ready,
            pause_at=f"promote-{step}",
        )
        assert r.wait_for_checkpoint(f"promote-{step}"), r.finish()
        r.kill()
        counts.cases += 1
        note_state(counts, pg_env, f"promote killed at {step}")
    note_exit(counts, "promote re-run", run(PROMOTE, ready), {0})
    records = [k for k in bucket_bytes("production") if k.startswith("tenantctl/promotions/")]
    if len(records) != 1:
        counts.broken_states += 1
        counts.details.append(f"{len(records)} promotion records after one promotion")

    launched = production_snapshot(pg_env)
    code, out, err = run([*PROMOTE, "--json"], ready)  # a retry after lost output
    note_exit(counts, "promote again", (code, out, err), {0})
    if code == 0 and not json.loads(out).get("unchanged"):
        counts.broken_states += 1
        counts.details.append("promote of an unchanged preview started a new promotion")
    if production_snapshot(pg_env) != launched:
        counts.production_changes += 1
        counts.details.append("a no-op promote changed production")
    note_exit(counts, "rollback", run(ROLLBACK, ready), {0})
    if production_snapshot(pg_env)[1] != pre_launch[1] or served("production") != (
        pre_launch_served
    ):
        counts.broken_states += 1
        counts.details.append("rollback did not return to the pre-launch state")
    spec_live = _live(ready)
    if spec_live is not False:
        counts.broken_states += 1
        counts.details.append("rollback of the go-live left tenants:live true")
    second = run(ROLLBACK, ready)
    note_exit(counts, "second rollback", second, {3})

    rng = random.Random(8)
    for index in range(3):  # random moments of fresh promotions
        bump_preview(pg_env)
        r = Run(PROMOTE, ready)
        time.sleep(round(rng.uniform(1.0, 4.0), 2))
        r.kill()
        counts.cases += 1
        note_state(counts, pg_env, f"promote killed at random #{index}")
        note_exit(counts, f"re-run #{index}", run(PROMOTE, ready), {0})
        if not _live(ready):
            counts.broken_states += 1
            counts.details.append(f"round {index}: not live after the re-run")
    counts.check()


def _live(stacks: Path) -> bool:
    from infra.ops.stacks.stackfiles import read_spec

    return read_spec(stacks, SLUG, "production").live


def test_create_killed_at_every_step_finishes_on_a_re_run(
    tmp_path: Path, aws_env: str, pg_env: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", 0)
    counts = Counts("kill-create")
    folder = with_platform(tmp_path / "stacks")
    points = [
        "provision-defaults-database",
        "provision-working-database",
        "provision-first-release",
    ]
    for point in points:
        r = Run(CREATE, folder, pause_at=point)
        assert r.wait_for_checkpoint(point, timeout=120), r.finish()
        r.kill()
        counts.cases += 1
    rng = random.Random(8)
    for _ in range(2):
        r = Run(CREATE, folder)
        time.sleep(round(rng.uniform(1.0, 6.0), 2))
        r.kill()
        counts.cases += 1
    note_exit(counts, "create re-run", run(CREATE, folder), {0})
    note_state(counts, pg_env, "create")
    for stage in naming.STAGES:
        s = store(stage)
        current = s.current()
        if current is None or dict(s.release(current.release).files) != s.defaults_manifest():  # type: ignore[union-attr]
            counts.broken_states += 1
            counts.details.append(f"{stage}: not serving the defaults after create")
    if leftovers(pg_env, SLUG):
        counts.broken_states += 1
    counts.check()


# ------------------------------------------------------------------ dependency faults


def _bucket_state() -> tuple[Any, ...]:
    return bucket_bytes("preview"), bucket_bytes("production")


def test_dependency_faults_are_one_line_distinct_and_leave_state_resumable(
    ready: Path, pg_env: str, aws_env: str, tmp_path: Path
):
    counts = Counts("faults")
    port = int(pg_env.rsplit(":", 1)[1].split("/")[0])
    closed_pg = pg_env.replace(f":{port}/", f":{free_port()}/")
    closed_aws = f"http://127.0.0.1:{free_port()}"

    def expect(name: str, got: tuple[int, str, str], code: int, before: Any, after: Any) -> None:
        counts.cases += 1
        note_exit(counts, name, got, {code})
        lines = [line for line in got[2].splitlines() if line.startswith("Error:")]
        if code and got[0] == code and len(lines) != 1:
            counts.details.append(f"{name}: {len(lines)} error lines")
            counts.broken_states += 1
        if before != after:
            counts.broken_states += 1
            counts.details.append(f"{name}: state changed")

    # PostgreSQL unreachable (stopped or port closed: the client sees the same refusal)
    ok(cli(ready, *RESET))  # so that an undo is available
    for name, args in {"reset": RESET, "undo": UNDO, "promote": PROMOTE}.items():
        before = _bucket_state()
        got = run(args, ready, env={"TENANTCTL_DATABASE_URL": closed_pg})
        expect(f"pg down: {name}", got, 5, before, _bucket_state())
        if lock_value(SLUG) is not None:
            counts.broken_states += 1
            counts.details.append(f"pg down: {name} left the lock")
    ok(cli(ready, *UNDO))
    ok(cli(ready, *PROMOTE))
    before = _bucket_state()
    got = run(ROLLBACK, ready, env={"TENANTCTL_DATABASE_URL": closed_pg})
    expect("pg down: rollback", got, 5, before, _bucket_state())

    # AWS endpoint unreachable
    for name, args in {"reset": RESET, "promote": ROLLBACK, "status": ["status", SLUG]}.items():
        before = _bucket_state()
        got = run(args, ready, env={"AWS_ENDPOINT_URL": closed_aws})
        want = 0 if name == "status" else 5  # status reports each stage as unreachable
        expect(f"aws down: {name}", got, want, before, _bucket_state())
        said = (got[1] + got[2]).lower()
        if name == "status" and "connect" not in said and "reach" not in said:
            counts.broken_states += 1
            counts.details.append(f"aws down: status did not say so: {got[1][-300:]}")

    # PostgreSQL dying mid-reset: cut the connection once the new database is built
    proxy = Proxy(port)
    r = Run(
        RESET,
        ready,
        pause_at="reset-built",
        env={"TENANTCTL_DATABASE_URL": pg_env.replace(f":{port}/", f":{proxy.port}/")},
    )
    assert r.wait_for_checkpoint("reset-built")
    proxy.cut()
    r.resume()
    counts.cases += 1
    note_exit(counts, "pg dies mid-reset", r.finish(), {5})
    note_state(counts, pg_env, "pg dies mid-reset")
    note_exit(counts, "reset after pg came back", run(RESET, ready), {0})

    # AWS dying mid-reset (a change first: a reset of an untouched preview does nothing)
    bump_preview(pg_env)
    aws_port = int(aws_env.rsplit(":", 1)[1])
    proxy = Proxy(aws_port)
    r = Run(
        RESET,
        ready,
        pause_at="reset-swapped",
        env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}"},
    )
    assert r.wait_for_checkpoint("reset-swapped")
    proxy.cut()
    r.resume()
    counts.cases += 1
    note_exit(counts, "aws dies mid-reset", r.finish(), {5})
    note_exit(counts, "reset after aws came back", run(RESET, ready), {0})
    note_state(counts, pg_env, "aws dies mid-reset")

    # PostgreSQL dying mid-promote (a new promotion: preview edited again)
    edit_preview(pg_env, "fault round")
    proxy = Proxy(port)
    r = Run(
        PROMOTE,
        ready,
        pause_at="promote-copy-config",
        env={"TENANTCTL_DATABASE_URL": pg_env.replace(f":{port}/", f":{proxy.port}/")},
    )
    assert r.wait_for_checkpoint("promote-copy-config")
    proxy.cut()
    r.resume()
    counts.cases += 1
    note_exit(counts, "pg dies mid-promote", r.finish(), {5})
    note_exit(counts, "promote resumed", run(PROMOTE, ready), {0})
    note_state(counts, pg_env, "pg dies mid-promote")

    # A bad region in a stack file
    path = ready / "Pulumi.demo-production.yaml"
    text = path.read_text()
    path.write_text(text.replace("aws:region: us-east-1", "aws:region: us east-1"))
    got = run(CREDENTIALS, ready, stdin=LIVE)
    path.write_text(text)
    expect("bad region", got, 2, None, None)

    # A read-only stacks folder and a full disk (root: a bind mount and a tiny tmpfs)
    mounts = {"read-only folder": "ro", "full disk": "size=64k"} if os.geteuid() == 0 else {}
    for name, options in mounts.items():
        target = with_platform(tmp_path / name.replace(" ", "-"))
        if options == "ro":
            subprocess.run(["mount", "--bind", str(target), str(target)], check=True)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], check=True)
        else:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], check=True
            )
            with_platform(target)  # the platform is known; only the disk is full
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={target}/fill", "bs=1k", "count=64"],
                capture_output=True,
            )
        try:
            before = sorted(p.name for p in target.iterdir())
            got = run(["create", SLUG, "--from", str(EXAMPLE), "--no-deploy"], target)
            expect(name, got, 7, before, sorted(p.name for p in target.iterdir()))
        finally:
            subprocess.run(["umount", str(target)], check=True)
    counts.check()
