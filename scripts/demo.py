"""Run the demo rollout on the local target, printing each command as a person would type it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import psycopg

from infra import PROJECT_DIR
from infra.core import naming
from infra.devtools import localtarget
from infra.ops import aws
from infra.ops.content import ContentStore
from infra.ops.database import database_url

ROOT = PROJECT_DIR
STATE = ROOT / ".local"
STACKS = STATE / "demo-stacks"
SLUG = "demo"
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


def banner(text: str) -> None:
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def run(*args: str, stdin: str | None = None) -> None:
    print(f"{DIM}$ tenantctl {shlex.join(args)}{RESET}", flush=True)
    subprocess.run([str(ROOT / ".venv/bin/tenantctl"), *args], check=True, input=stdin, text=True)


def edit_preview(round_: int) -> None:
    """What a client does in phase 3: change content and configuration, sell test permits."""
    bucket = naming.content_bucket(SLUG, naming.PREVIEW)
    store = ContentStore(aws.client("s3"), bucket)
    current = store.current()
    assert current is not None
    home = store.read(current.release, "portal/home.html").decode()
    edited = home.replace("</main>", f"<p>Welcome back, Wildcats! (edit round {round_})</p></main>")
    release = store.publish(
        files={"portal/home.html": edited.encode(), "portal/parking-map.html": b"<h1>Map</h1>\n"},
        manifest={
            k: v
            for k, v in store.release(current.release).files.items()  # type: ignore[union-attr]
            if k != "portal/home.html"
        },
        source=f"demo edit {round_}",
    )
    store.switch(release.id)
    url = database_url(
        os.environ[localtarget.DATABASE_URL_ENV], naming.database_name(SLUG, naming.PREVIEW)
    )
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE config.permit_types SET price_cents = price_cents + 1500")
        conn.execute(
            "INSERT INTO config.lots (code, name, capacity, kind) VALUES "
            "('LOT-Z', 'Stadium Overflow', 400, 'surface') ON CONFLICT DO NOTHING"
        )
        conn.execute(
            "INSERT INTO activity.accounts (email, full_name, affiliation) "
            "VALUES ('tester@demo-state.example.edu', 'Test Student', 'student')"
        )
    print(f"  content: release {release.id} (home page edited, parking map added)")
    print("  config: every permit price +$15.00, lot LOT-Z added; activity: a test account")


def main() -> int:
    keep = "--keep" in sys.argv
    shutil.rmtree(STACKS, ignore_errors=True)
    STACKS.mkdir(parents=True)
    banner("Local target: AWS API emulator + PostgreSQL on 127.0.0.1")
    target = localtarget.start(STATE)
    os.environ.update(target.environment())
    os.environ["TENANTCTL_STACKS_DIR"] = str(STACKS)
    print(f"  AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']}  stacks in {STACKS}")
    try:
        banner("Phase 1 — create both stacks (no Pulumi CLI here: deployed on the local target)")
        run("create", SLUG, "--from", str(ROOT / "stacks/tenant.example.yaml"))
        banner("What the production stack contains (offline plan)")
        run("plan", SLUG, "--stage", "production")
        banner("Phase 2 — sandbox payment credentials for preview (from stdin, never argv)")
        run(
            "payment",
            "set-credentials",
            SLUG,
            "--stage",
            "preview",
            stdin='{"secretKey": "sk_test_demo0000000000000000", "webhookSecret": "whsec_demo"}',
        )
        banner("Phase 3 — the client edits preview content and configuration")
        edit_preview(1)
        run("status", SLUG)
        banner("Reset preview to defaults")
        run("reset-preview", SLUG, "--yes")
        banner("Phase 3-4 — edit again; this time the edits are vetted")
        edit_preview(2)
        banner("Phase 5 — go live: live credentials staged, then promote")
        os.environ["DEMO_LIVE_CREDENTIALS"] = (
            '{"secretKey": "sk_live_demo0000000000000000", "webhookSecret": "whsec_live"}'
        )
        run(
            "payment",
            "set-credentials",
            SLUG,
            "--stage",
            "production",
            "--from-env",
            "DEMO_LIVE_CREDENTIALS",
        )
        run("promote", SLUG, "--dry-run")
        run("promote", SLUG, "--yes")
        run("status", SLUG)
        print(f"\n{BOLD}Done.{RESET} Stack files of this run: {STACKS}")
    finally:
        if keep:
            print(
                f"Local target left running; `source {STATE / 'env'}` to use it, "
                "`scripts/local-target down` to stop it."
            )
        else:
            localtarget.stop(STATE, purge=True)  # state goes together (scripts/local-target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
