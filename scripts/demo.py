"""Run the demo rollout on the local target, printing each command as a person would type it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from infra import PROJECT_DIR
from infra.core import naming
from infra.devtools import localtarget
from infra.devtools.mockvendors import MockPullAPI
from infra.ops.adapters import aws
from infra.ops.adapters.database import database_url

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


def publish_client_cname() -> None:
    """What the client's DNS team does at go-live: point the portal domain (CNAME) at the
    routing endpoint `tenantctl domain status` names, here in the emulator's Route 53."""
    status = json.loads(
        subprocess.run(
            [str(ROOT / ".venv/bin/tenantctl"), "domain", "status", SLUG, "--json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    domain, target = status["domain"], status["cnameTarget"]
    parent = domain.split(".", 1)[1]
    print(f"{DIM}(client DNS) {domain} CNAME {target}{RESET}", flush=True)
    route53 = aws.client("route53")
    zones = route53.list_hosted_zones_by_name(DNSName=parent)["HostedZones"]
    zone = next((z["Id"] for z in zones if z["Name"].rstrip(".") == parent), None)
    if zone is None:
        made = route53.create_hosted_zone(Name=parent, CallerReference=f"client-{parent}")
        zone = made["HostedZone"]["Id"]
    record = {"Name": domain, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": target}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


def edit_preview(round_: int) -> Path:
    """What a client does in phase 3, through tenantctl: content, configuration, old data."""
    work = STATE / f"demo-edit-{round_}"
    shutil.rmtree(work, ignore_errors=True)
    folder = work / "content"
    run("content", "pull", SLUG, str(folder))
    home = folder / "portal" / "home.html"  # what a person does in an editor
    home.write_text(
        home.read_text().replace(
            "</main>", f"<p>Welcome back, Wildcats! (edit round {round_})</p></main>"
        )
    )
    (folder / "portal" / "parking-map.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Parking map</title>'
        '<link rel="stylesheet" href="/styles.css"></head>\n<body><main id="main">'
        "${portal_notice}<h1>Parking map</h1><p>Lots by zone.</p>"
        '<p><a href="/">Home</a></p></main></body></html>\n'
    )
    run("content", "diff", SLUG, str(folder))
    run("content", "push", SLUG, str(folder))

    lots = work / "lots.csv"
    lots.write_text(
        "code,name,kind,capacity,accessible_spaces,ev_spaces,address,description,hours,"
        "active,sort_order\nLOT-Z,Stadium Overflow,surface,400,8,0,1 Stadium Way,,,true,130\n"
    )
    zones = work / "zones.csv"
    zones.write_text("zone,lot_code,name,provider\n9001,LOT-Z,Stadium Overflow,both\n")
    accounts = work / "accounts.csv"
    accounts.write_text(
        "email,full_name,affiliation,campus_id,phone\n"
        "tester@demo-state.example.edu,Test Student,student,S0000001,\n"
    )
    run("import", "--template", "permit-types")
    run("import", SLUG, "lots", str(lots))
    run("import", SLUG, "zones", str(zones))
    run("import", SLUG, "accounts", str(accounts))
    return folder


def show_preview_state(label: str) -> None:
    """Read-only look at what preview serves and holds (for the reader of the demo)."""
    url = database_url(
        os.environ[localtarget.DATABASE_URL_ENV], naming.database_name(SLUG, naming.PREVIEW)
    )
    with psycopg.connect(url) as conn:
        lot = conn.execute("SELECT count(*) FROM config.lots WHERE code = 'LOT-Z'").fetchone()
        imports = conn.execute("SELECT count(*) FROM stack.imports").fetchone()
        sessions = conn.execute("SELECT count(*) FROM activity.sessions").fetchone()
    print(
        f"  {label}: lot LOT-Z present: {bool(lot and lot[0])}; imports recorded: {imports}; "
        f"integration sessions: {sessions[0] if sessions else 0}"
    )


def add_integration(pull_url: str) -> None:
    """Phase 3's integration: the meters push into preview, zones mapped, sandbox
    credentials from the environment (never argv, never printed), then a TEST round trip
    from the signed push to the enforcement lookup, recorded for the go-live gate."""
    started = time.monotonic()
    run("integration", "add", SLUG, "meters", "--vendor", "generic-push", "--mode", "push",
        "--timezone", "America/New_York")  # fmt: skip
    zones = STATE / "demo-meter-zones.csv"  # the vendor's zone list, as its rep sends it
    zones.write_text("id,name\nM-N1,North Garage\nM-N2,stadium lot\n")
    run("integration", "map-zones", SLUG, "meters", "--zones", str(zones), "--write")
    run("deploy", f"{SLUG}-preview", "--yes")  # the integration's secret, queue and alarms
    os.environ["DEMO_METERS_CREDENTIALS"] = '{"hmacSecret": "meters-sandbox-demo-secret"}'
    run("integration", "set-credentials", SLUG, "meters", "--stage", "preview",
        "--from-env", "DEMO_METERS_CREDENTIALS")  # fmt: skip
    run("integration", "test", SLUG, "meters")
    # and a pulled one: the mobile-parking app's sandbox API (a mock vendor on 127.0.0.1),
    # polled by a schedule; production gets it only at go-live, already live
    run("integration", "add", SLUG, "parkmobile", "--vendor", "parkmobile", "--mode", "pull",
        "--schedule-minutes", "5", "--timezone", "America/New_York",
        "--preview-endpoint", f"{pull_url}/parkmobile/parkingRights",
        "--production-endpoint", "https://api.parkmobile.example")  # fmt: skip
    zones = STATE / "demo-parkmobile-zones.csv"
    zones.write_text("id,name\nPM-1,North Garage\n")
    run("integration", "map-zones", SLUG, "parkmobile", "--zones", str(zones), "--write")
    run("deploy", f"{SLUG}-preview", "--yes")  # its secret, queue, schedule and alarms
    os.environ["DEMO_PARKMOBILE_CREDENTIALS"] = '{"clientId": "demo", "clientSecret": "sandbox"}'
    run("integration", "set-credentials", SLUG, "parkmobile", "--stage", "preview",
        "--from-env", "DEMO_PARKMOBILE_CREDENTIALS")  # fmt: skip
    run("integration", "test", SLUG, "parkmobile")
    print(f"{DIM}  (integration steps: {time.monotonic() - started:.1f} s){RESET}", flush=True)


def screenshots() -> None:
    """The main pages and an email of preview's release, through `content preview`."""
    from infra.devtools import browser

    if not browser.available():
        print("  (no /usr/bin/chromium: screenshots skipped)")
        return
    out = STATE / "screenshots"
    out.mkdir(exist_ok=True)
    port = "8047"
    print(f"{DIM}$ tenantctl content preview {SLUG} --port {port} &{RESET}", flush=True)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/tenantctl"), "content", "preview", SLUG, "--port", port]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        with browser.Browser() as chromium:
            for name, path in [
                ("home", "/"),
                ("buy-permit", "/buy-permit"),
                ("account", "/account"),
                ("pay-violation", "/pay-violation"),
                ("parking-map", "/parking-map"),
                ("email-permit-confirmation", "/emails/permit-confirmation"),
            ]:
                report = chromium.visit(base + path, out / f"{name}.png")
                state = "ok" if not report.errors else f"errors: {report.errors}"
                print(f"  {path} -> {out / (name + '.png')} ({state})")
    finally:
        server.terminate()
        server.wait(timeout=10)


def rollout(*tasks: str, phase: int | None = None, by: str = "Pat Lee") -> None:
    """Account staff mark what people did, then complete the phase through its gate."""
    for task in tasks:
        run("rollout", "done", SLUG, task, "--by", by)
    if phase is not None:
        run("rollout", "done", SLUG, "--phase", str(phase), "--by", by)


def training() -> None:
    """Phase 4's training: a session scheduled (yesterday 10:00, the client's time), the
    client's calendar exported, the session recorded as held (the training task sees it)."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    args = ["rollout", "training", "add", SLUG, "--when", f"{yesterday}T10:00",
            "--duration", "90", "--topic", "Permit desk: issuing, refunds and appeals",
            "--attendee", "clerk@example.edu", "--attendee", "lead@example.edu"]  # fmt: skip
    print(f"{DIM}$ tenantctl {shlex.join(args)}{RESET}", flush=True)
    added = subprocess.run(
        [str(ROOT / ".venv/bin/tenantctl"), *args, "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    change = json.loads(added.stdout)
    print(f"  {change['message']}")
    run("rollout", "training", "list", SLUG, "--ics", str(STATE / "training.ics"))
    run("rollout", "training", "done", SLUG, change["subject"], "--by", "Pat Lee")


def verify_and_accept(previous: str | None = None) -> str:
    """`tenantctl verify` on preview (the testing task follows it), the run read back, and
    the client's acceptance of it (`rollout accept`); returns the run id."""
    print(f"{DIM}$ tenantctl verify {SLUG} --json{RESET}", flush=True)
    done = subprocess.run(
        [str(ROOT / ".venv/bin/tenantctl"), "verify", SLUG, "--json"],
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout)
    counts = result["counts"]
    print(
        f"  release {result['release']}: {'passed' if result['passed'] else 'FAILED'} "
        f"({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not applicable']} not applicable) in {result['seconds']:.1f}s; "
        f"run {result['runId']}"
    )
    if done.returncode != 0:
        run("verify", "show", SLUG, "--run", result["runId"])  # names each failed check
        raise SystemExit(f"verify failed (exit {done.returncode})")
    run("verify", "show", SLUG, "--run", result["runId"])
    if previous:
        print(f"  (replaces the acceptance of run {previous})")
    run("rollout", "accept", SLUG, "--by", "Dana Cruz (client)", "--evidence", result["runId"])
    return str(result["runId"])


def late_edit() -> None:
    """A content change pushed after the client accepted what it tested."""
    folder = STATE / "demo-edit-late" / "content"
    shutil.rmtree(folder.parent, ignore_errors=True)
    run("content", "pull", SLUG, str(folder))
    help_page = folder / "portal" / "help.html"
    help_page.write_text(
        help_page.read_text().replace("</main>", "<p>Office hours change in May.</p></main>")
    )
    run("content", "push", SLUG, str(folder))


def refused(*args: str) -> None:
    """A command the demo expects to refuse (exit 3) with one line saying why."""
    print(f"{DIM}$ tenantctl {shlex.join(args)}   # expected to refuse{RESET}", flush=True)
    done = subprocess.run([str(ROOT / ".venv/bin/tenantctl"), *args], text=True)
    if done.returncode != 3:
        raise SystemExit(f"expected exit 3 (refused), got {done.returncode}")


def show(detail: bool = False) -> None:
    """Where the rollout stands and which milestones were billed."""
    run("rollout", "status", *([SLUG] if detail else []))
    run("billing", "pending")


def main() -> int:
    keep = "--keep" in sys.argv
    shutil.rmtree(STACKS, ignore_errors=True)
    STACKS.mkdir(parents=True)
    # The platform's outputs, as the project's own stacks/ carries them for offline plans.
    shutil.copy(ROOT / "stacks" / "platform-outputs.yaml", STACKS / "platform-outputs.yaml")
    banner("Local target: AWS API emulator + PostgreSQL on 127.0.0.1")
    target = localtarget.start(STATE)
    os.environ.update(target.environment())
    os.environ["TENANTCTL_STACKS_DIR"] = str(STACKS)
    print(f"  AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']}  stacks in {STACKS}")
    _fresh_control_database()
    pull_api = MockPullAPI([]).__enter__()  # the mobile-parking app's sandbox API
    try:
        banner("Preflight: the account and the platform are ready for a first client")
        run("preflight")
        banner("Phase 1 — sign-off: create both stacks; the rollout starts, sign-off is billed")
        run(
            "create",
            SLUG,
            "--from",
            str(ROOT / "stacks/tenant.example.yaml"),
            "--contract",
            "DEMO-2026-001",
        )
        show(detail=True)
        banner("What the production stack contains (offline plan)")
        run("plan", SLUG, "--stage", "production")
        banner("A fleet run: drift of both stacks on the embedded Temporal server (no setup)")
        run("fleet", "run", "drift", "--select", SLUG, "--wave-size", "1")
        banner("Phase 1 — discovery done; the gate passes and preview go-live is billed")
        rollout(
            "discovery-call",
            "responsibilities-agreed",
            "support-introduction",
        )
        rollout("teams-assembled", "business-processes", by="Dana Cruz (client)")
        rollout(phase=1)
        show()
        banner("Phase 2 — sandbox payment credentials for preview (from stdin, never argv)")
        run(
            "payment",
            "set-credentials",
            SLUG,
            "--stage",
            "preview",
            stdin='{"secretKey": "sk_test_demo0000000000000000", "webhookSecret": "whsec_demo"}',
        )
        banner(
            "Phase 2 — the client's DNS team is ready: the portal domain's certificate "
            "(us-east-1); its validation record goes to the client"
        )
        run("domain", "request-certificate", SLUG)
        banner("Phase 2 — ACM issued it: the domain becomes a disabled CloudFront tenant")
        run("domain", "attach", SLUG)
        # "domains" is observed: the certificate is issued.
        # "admin-accounts" is observed: the user pools and administrators exist.
        rollout("access-list", "roles-permissions", by="Dana Cruz (client)")
        rollout(phase=2)
        show()
        banner("Phase 3 — the client edits preview content and configuration (tenantctl only)")
        edited = edit_preview(1)
        banner(
            "Phase 3 — integrations: pushed meters and a pulled mobile-parking app, zones "
            "mapped, TEST round trips"
        )
        add_integration(pull_api.url)
        show_preview_state("after the edits")
        run("status", SLUG)
        banner(
            "Reset preview to defaults: content and configuration come back, integration "
            "sessions are cleared, the integration's config stays"
        )
        run("reset-preview", SLUG, "--yes")
        run("content", "diff", SLUG, str(edited))
        show_preview_state("after the reset")
        run("integration", "list", SLUG)
        run("rollout", "status", SLUG)
        banner("Phase 3 — edit again; this time the edits are vetted")
        edit_preview(2)
        run("email", "test", SLUG, "welcome", "--to", "pat.lee@demo-state.example.edu")
        rollout(
            "lots-permits",
            "violation-options",
            "system-messages",
            by="Dana Cruz (client)",
        )
        rollout(phase=3)
        show()
        banner("Phase 3 — the edits made a new release: the integration's round trip again on it")
        run("integration", "test", SLUG, "meters")  # integrations-verified needs this release
        run("integration", "test", SLUG, "parkmobile")
        banner("Look at the portal as the public will (headless Chromium screenshots)")
        screenshots()
        banner("Phase 4 — testing and training; live credentials staged; a clean dry run")
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
        banner("Phase 4 — the client points its domain at CloudFront; CloudFront verifies it")
        publish_client_cname()
        run("domain", "status", SLUG)
        run("promote", SLUG, "--dry-run")
        banner("Phase 4 — verify preview: the acceptance suite generated from its configuration")
        accepted = verify_and_accept()
        banner("Phase 4 — training: a session scheduled in the client's time zone, then held")
        training()
        rollout("issues-resolved")
        rollout(phase=4)
        show()
        banner("Phase 4 — a late edit after the acceptance: promote refuses and says what changed")
        late_edit()
        refused("promote", SLUG, "--yes")
        banner("Phase 4 — verify the changed release; the client accepts it instead")
        verify_and_accept(previous=accepted)
        run("integration", "test", SLUG, "meters")  # and the round trip on the changed release
        run("integration", "test", SLUG, "parkmobile")
        banner("Phase 5 — go live: promote records go-live and the start of recurring billing")
        # before go-live nothing polls production: its stack has no integration yet
        run("integration", "list", SLUG, "--stage", "production")
        run("promote", SLUG, "--yes")
        # the integrations switched to live with go-live: production endpoint, the pull's
        # schedule ENABLED, alarms on
        run("integration", "list", SLUG, "--stage", "production")
        run("status", SLUG)
        show(detail=True)
        report = STATE / "rollouts.html"
        run("rollout", "report", "--html", str(report))
        print(f"\n{BOLD}Done.{RESET} Stack files of this run: {STACKS}; report: {report}")
    finally:
        pull_api.__exit__(None, None, None)
        if keep:
            print(
                f"Local target left running; `source {STATE / 'env'}` to use it, "
                "`scripts/local-target down` to stop it."
            )
        else:
            localtarget.stop(STATE, purge=True)  # state goes together (scripts/local-target)
            if not os.environ.get("TENANTCTL_TEMPORAL_ADDRESS"):
                run("fleet", "server", "--stop")  # the embedded server the fleet run started
    return 0


def _fresh_control_database() -> None:
    """Each demo run starts its rollout from scratch (the control database persists)."""
    from psycopg import sql

    with psycopg.connect(os.environ[localtarget.DATABASE_URL_ENV], autocommit=True) as conn:
        name = sql.Identifier(localtarget.CONTROL_DATABASE_NAME)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    localtarget.create_control(
        os.environ[localtarget.DATABASE_URL_ENV], localtarget.CONTROL_DATABASE_NAME
    )


if __name__ == "__main__":
    sys.exit(main())
