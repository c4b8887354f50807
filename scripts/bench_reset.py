"""Benchmark reset-preview and promote at size, against the naive reset, in one run.

Usage: .venv/bin/python scripts/bench_reset.py [--objects 1000] [--mb 100] [--runs 3]

Stands up a throwaway local target (moto server process + PostgreSQL), creates
the demo client, grows preview to --objects content objects and a working
database of at least --mb MB, then times, each --runs times from the same
dirty state:

- tenantctl's reset (``infra.ops.lifecycle.reset.reset_preview``): new release from
  defaults (content-addressed: no object re-uploaded), working database
  recreated from the defaults template, payment settings rewritten;
- the naive reset: drop the working database and re-run schema + seed SQL;
  delete every content object and re-upload every file (same thread-pool
  width as tenantctl, so the comparison is of approaches, not parallelism);

and then one promote of the same size. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from psycopg import sql

from infra import PROJECT_DIR
from infra.core import naming, rendering
from infra.core.payment_settings import payment_parameters
from infra.core.spec import TenantSpec
from infra.devtools import localtarget
from infra.devtools.localapply import apply_local
from infra.ops.adapters.aws import MAX_CONCURRENCY
from infra.ops.adapters.database import reset_mark
from infra.ops.adapters.payment_store import set_credentials, write_parameters
from infra.ops.lifecycle.promote import promote
from infra.ops.lifecycle.provision import post_provision
from infra.ops.lifecycle.reset import ResetOutcome, reset_preview
from infra.ops.stacks.handle import PreviewStack, open_stack
from infra.ops.stacks.stackfiles import read_spec, render_stack_file

SLUG = "demo"
STACKS = PROJECT_DIR / "stacks"


def demo_spec(stage: naming.Stage) -> TenantSpec:
    return read_spec(STACKS, "demo", stage)


def synthetic_files(count: int) -> dict[str, bytes]:
    """Extra portal assets so that defaults hold *count* objects in all."""
    return {
        f"portal/assets/lots/lot-{i:04d}.svg": (
            f'<svg xmlns="http://www.w3.org/2000/svg"><title>Lot {i}</title>'
            + "<rect width='10' height='10'/>" * 40
            + "</svg>\n"
        ).encode()
        for i in range(count)
    }


def admin(url: str, statement: sql.Composable) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def database_mb(url: str, name: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return (row[0] if row else 0) / 1e6


def grow_working_db(admin_url: str, mb: int) -> float:
    working = naming.database_name(SLUG, naming.PREVIEW)
    url = rendering_url(admin_url, working)
    with psycopg.connect(url) as conn:
        batch = 0
        while database_mb(admin_url, working) < mb:
            batch += 1
            conn.execute(
                "INSERT INTO activity.accounts (email, full_name, affiliation, phone, campus_id) "
                "SELECT 'tester' || %(batch)s || '-' || g || '@demo-state.example.edu', "
                "'Practice Account ' || g || repeat(' x', 60), 'student', "
                "'+1 555 010 ' || lpad(g::text, 4, '0'), md5(g::text) "
                "FROM generate_series(1, 100000) g",
                {"batch": batch},
            )
            conn.commit()
    return database_mb(admin_url, working)


def rendering_url(admin_url: str, db: str) -> str:
    from infra.ops.adapters.database import database_url

    return database_url(admin_url, db)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="tenantctl-bench-"))
    target = localtarget.start(state)
    os.environ.update(target.environment())
    admin_url = os.environ[localtarget.DATABASE_URL_ENV]
    try:
        run(args, state, admin_url)
    finally:
        localtarget.stop(state, purge=True)


class Ungated:
    """A ``PromotionGate`` that checks and records nothing: the benchmark times promote's
    data steps, not the rollout's control database."""

    def check(self, *_: object) -> str | None:
        return None

    def record_go_live(self, *_: object) -> str:
        return "not recorded (benchmark)"


def run(args: argparse.Namespace, state: Path, admin_url: str) -> None:
    preview_spec, production_spec = demo_spec("preview"), demo_spec("production")
    stacks = state / "stacks"
    stacks.mkdir()
    for spec in (preview_spec, production_spec):
        (stacks / f"Pulumi.{spec.stack_name}.yaml").write_text(render_stack_file(spec, None))
    # The platform this client runs on: its outputs name the bucket the client's lock is in.
    shutil.copy(PROJECT_DIR / "stacks" / "platform-outputs.yaml", stacks)
    preview = PreviewStack(preview_spec, admin_url, stacks_dir=stacks)
    production = open_stack(production_spec)

    print("setting up ...", flush=True)
    for spec, handle in ((preview_spec, preview), (production_spec, production)):
        apply_local(spec, handle)
        rendered = rendering.render_content(spec)
        extra = synthetic_files(args.objects - len(rendered))
        handle.content.upload_defaults({**rendered, **extra})
        post_provision(handle)
    defaults = {**rendering.render_content(preview_spec)}
    defaults.update(synthetic_files(args.objects - len(defaults)))
    size = grow_working_db(admin_url, args.mb)
    working = naming.database_name(SLUG, naming.PREVIEW)
    dirty = f"{working}_bench_dirty"
    admin(admin_url, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(dirty)))
    admin(
        admin_url,
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(dirty), sql.Identifier(working)
        ),
    )
    print(f"preview: {len(defaults)} content objects, working database {size:.0f} MB")

    def big_working_database(drop: tuple[str, ...] = ()) -> None:
        """The working database replaced by a copy of the big one (*drop*: also these)."""
        for db in (working, *drop):
            admin(
                admin_url,
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)),
            )
        admin(
            admin_url,
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(working), sql.Identifier(dirty)
            ),
        )

    def dirty_state() -> None:
        """Edited content, the big database, edited payment settings: before every reset."""
        big_working_database(drop=(naming.undo_database_name(SLUG, naming.PREVIEW),))
        current = preview.content.current()
        assert current is not None
        files = dict(preview.content.release(current.release).files)  # type: ignore[union-attr]
        preview.content.switch(
            preview.content.publish(
                files={"portal/home.html": f"<p>edit {time.time()}</p>".encode()},
                manifest={k: v for k, v in files.items() if k != "portal/home.html"},
            ).id
        )
        write_parameters(preview.ssm, preview_spec, {"mode": "live"})

    s3 = preview.s3
    naive_prefix = "naive/"
    bucket = preview.content.bucket

    def put_all() -> None:
        with ThreadPoolExecutor(MAX_CONCURRENCY) as pool:
            list(
                pool.map(
                    lambda item: s3.put_object(
                        Bucket=bucket, Key=naive_prefix + item[0], Body=item[1]
                    ),
                    defaults.items(),
                )
            )

    def naive_reset() -> None:
        # Database: drop it and re-run the seed SQL.
        admin(
            admin_url,
            sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(working)),
        )
        admin(admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(working)))
        with psycopg.connect(rendering_url(admin_url, working)) as conn:
            conn.execute(rendering.render_db_schema().encode())
            conn.execute(rendering.render_db_seed(preview_spec).encode())
        # Content: delete every object and re-upload every file.
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=naive_prefix
            )
            for o in page.get("Contents", [])
        ]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True},
            )
        put_all()
        write_parameters(preview.ssm, preview_spec, payment_parameters(preview_spec))

    put_all()  # the naive model's content, so its first delete has something to delete
    fast, naive = [], []
    for i in range(args.runs):
        dirty_state()
        fast.append(timed(lambda: reset_preview(preview)))
        dirty_state()
        naive.append(timed(naive_reset))
        print(f"  run {i + 1}: tenantctl {fast[-1]:.2f} s, naive {naive[-1]:.2f} s", flush=True)
    f, n = statistics.median(fast), statistics.median(naive)
    print(
        f"reset-preview ({len(defaults)} objects, {size:.0f} MB database): "
        f"tenantctl median {f:.2f} s, naive median {n:.2f} s, {n / f:.1f}x faster"
    )
    last = reset_preview(preview)
    for step in last.steps:
        print(f"  {step.step:9} {step.seconds:.2f} s  {step.detail}")

    # Run twice: the second reset finds the preview untouched and does nothing.
    outcome: list[ResetOutcome] = []
    again = timed(lambda: outcome.append(reset_preview(preview)))
    print(
        f"reset-preview again on the untouched preview: {again:.2f} s "
        f"(unchanged: {outcome[-1].unchanged}; rows compared with the defaults template)"
    )
    # The compare's worst case: only the database changed since that reset, and it is big,
    # so every check but the last passes and the rows of the whole database are read.
    big_working_database()
    admin(
        admin_url,
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(working), sql.Literal(reset_mark(str(last.id)))
        ),
    )
    worst = timed(lambda: outcome.append(reset_preview(preview)))
    print(
        f"reset-preview after database-only changes ({size:.0f} MB): {worst:.2f} s "
        f"(unchanged: {outcome[-1].unchanged}; the compare, then a full reset; "
        f"a reset from a dirty state above: {f:.2f} s)"
    )

    # Promote at the same size: big preview activity tables (never copied), 50 edited files.
    dirty_state()
    current = preview.content.current()
    files = dict(preview.content.release(current.release).files)  # type: ignore[union-attr]
    edits = {k: f"<p>client edit {k}</p>".encode() for k in list(defaults)[:50]}
    preview.content.switch(
        preview.content.publish(
            files=edits, manifest={k: v for k, v in files.items() if k not in edits}
        ).id
    )
    with psycopg.connect(rendering_url(admin_url, working)) as conn:
        conn.execute("UPDATE config.permit_types SET price_cents = price_cents + 500")
    set_credentials(
        production.secrets, production_spec, {"secretKey": "sk_live_bench000000000000000000"}
    )
    # This measures promote's data steps: no rollout gate or go-live record (control database).
    os.environ.pop(localtarget.CONTROL_DATABASE_URL_ENV, None)
    record: dict[str, object] = {}
    seconds = timed(lambda: record.update(promote(stacks, SLUG, Ungated()).record))
    print(f"promote ({len(files)} objects, {size:.0f} MB preview database): {seconds:.2f} s")
    for step, took in dict(record["seconds"]).items():  # type: ignore[call-overload]
        print(f"  {step:15} {took:.2f} s")


if __name__ == "__main__":
    main()
