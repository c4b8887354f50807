"""tenantctl verify on the local target: the demo client's preview passes; a broken link, a
missing asset, a lot the portal does not offer, an image without alt text or an email that
does not render fails it, naming the page and the element; the evidence bundle is in the
stack's bucket with a manifest whose hashes match; no browser is one line."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infra.core import placeholders as ph
from infra.core import verify_checks as vc
from infra.core.content_model import content_hash, content_manifest, dump_json
from infra.devtools import localtarget
from infra.ops.verify import browser
from tests.helpers import SLUG, cli, create_demo, db_url, store, validate
from tests.snapshots import drop_database, user_databases

pytestmark = pytest.mark.skipif(
    not Path(browser.DEFAULT_CHROMIUM).exists(), reason="needs Debian's chromium"
)
BROWSER = pytest.mark.real_browser
"""What Chromium finds on the passing run, under test: never a kept load
(tests/browser_cache.py). The broken run's tests are not marked: each page it breaks is
served differently, so loaded afresh, and its other loads are the passing run's."""


def _fresh_local_target(moto: str, pg: str) -> None:
    """What the aws_env and pg_env fixtures do, once for this module's client."""
    request = urllib.request.Request(f"{moto}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    with psycopg.connect(pg, autocommit=True) as conn:
        for name in user_databases(conn):  # not the other tests' template copies
            drop_database(conn, name)


@pytest.fixture(scope="module")
def demo(
    moto_endpoint: str, pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """One demo client for the module (creating it costs seconds); tests that break it
    put it back (``broken_release``, ``config_edit``)."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in localtarget.aws_environment(moto_endpoint).items():
            mp.setenv(key, value)
        mp.setenv(localtarget.DATABASE_URL_ENV, pg_admin_url)
        mp.delenv(localtarget.CONTROL_DATABASE_URL_ENV, raising=False)
        _fresh_local_target(moto_endpoint, pg_admin_url)
        # As the aws_env fixture does: the platform's bucket where client locks live.
        localtarget.create_operations_bucket(moto_endpoint, localtarget.LOCAL_REGION)
        yield create_demo(tmp_path_factory.mktemp("verify"), mp)


_STACKS: list[Path] = []


def passing_stacks() -> Path:
    """The module's demo stacks folder (the ``demo`` fixture's)."""
    return _STACKS[0]


@pytest.fixture(scope="module")
def passing(demo: Path) -> dict[str, Any]:
    _STACKS[:] = [demo]
    result = cli(demo, "verify", SLUG, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return validate("verify-run", json.loads(result.stdout))


@contextmanager
def broken_release(edit: dict[str, bytes]) -> Iterator[None]:
    """The preview serving a copy of its release with *edit* applied, then switched back."""
    s = store()
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    files = {key: s.read(release.id, key) for key in release.files}
    files.update(edit)
    new = s.publish(files, source="test")
    s.switch(new.id)
    try:
        yield
    finally:
        s.switch(current.release)


def failures(document: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["detail"] for c in document["checks"] if c["status"] == "failed"}


def run_failing(demo: Path) -> dict[str, Any]:
    result = cli(demo, "verify", SLUG, "--json")
    assert result.exit_code == 3, result.output + result.stderr
    return validate("verify-run", json.loads(result.stdout))


def page(name: str) -> str:
    return f"{ph.PORTAL_DIR}{name}.html"


def read_page(name: str) -> str:
    s = store()
    current = s.current()
    assert current is not None
    return s.read(current.release, page(name)).decode()


# ------------------------------------------------------------------ the passing run


@BROWSER
def test_verify_passes_on_the_demo_preview(passing: dict[str, Any], pg_admin_url: str):
    ids = {c["id"] for c in passing["checks"]}
    with psycopg.connect(db_url(pg_admin_url, "preview")) as conn:
        permits = [r[0] for r in conn.execute("SELECT code FROM config.permit_types WHERE on_sale")]
        lots = [r[0] for r in conn.execute("SELECT code FROM config.lots WHERE active")]
        fines = [r[0] for r in conn.execute("SELECT code FROM config.violation_types")]

    assert passing["passed"] is True and failures(passing) == {}
    assert permits and lots and fines
    assert {f"permit-type:{c}" for c in permits} <= ids
    assert {f"lot:{c}" for c in lots} <= ids
    assert {f"violation-type:{c}" for c in fines} <= ids
    assert {f"email:{name}" for name in ph.EMAILS} <= ids
    assert {f"a11y:page-{p}@{w}" for p in ("home", "buy-permit") for w in vc.WIDTHS} <= ids


@BROWSER
def test_the_bundle_is_in_the_bucket_with_a_manifest_whose_hashes_match(
    passing: dict[str, Any],
):
    s = store()
    prefix = f"{vc.EVIDENCE_PREFIX}{passing['runId']}/"
    raw = s.get_evidence(prefix + "manifest.json")
    assert raw is not None
    manifest = json.loads(raw)
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    files = {k: s.read(release.id, k) for k in release.files}

    assert hashlib.sha256(raw).hexdigest() == passing["bundleHash"]
    assert manifest["release"] == current.release == passing["release"]
    assert manifest["contentHash"] == content_hash(dump_json(content_manifest(files)))
    assert manifest["configHash"] == passing["configHash"]
    assert manifest["toolVersion"] and manifest["startedAt"] == passing["startedAt"]
    for name, digest in manifest["files"].items():
        body = s.get_evidence(prefix + name)
        assert body is not None and hashlib.sha256(body).hexdigest() == digest, name
    assert {"junit.xml", "report.html", "axe.json"} <= set(manifest["files"])


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


@BROWSER
def test_the_screenshots_show_the_real_pages_at_both_widths(passing: dict[str, Any]):
    s = store()
    prefix = f"{vc.EVIDENCE_PREFIX}{passing['runId']}/"
    pages_raw = s.get_evidence(prefix + "pages.json")
    assert pages_raw is not None
    pages = json.loads(pages_raw)
    for width_name, (width, _) in vc.WIDTHS.items():
        key = f"page-buy-permit@{width_name}"
        png = s.get_evidence(f"{prefix}screenshots/{key}.png")
        assert png is not None
        # full page, exactly the document the browser laid out: the viewport's width (the
        # page fits it) and the document's height, longer than one screen on a phone
        assert _png_size(png) == (width, pages[key]["height"])
        assert pages[key]["width"] == width
        assert len(png) > 20_000  # a rendered page, not a blank one
    assert pages["page-buy-permit@phone"]["height"] > vc.WIDTHS["phone"][1]
    report = s.get_evidence(prefix + "report.html")
    assert report is not None
    inlined = re.findall(rb'src="data:image/png;base64,([^"]+)"', report)
    assert len(inlined) == sum(1 for c in passing["checks"] if c["id"].startswith("render:"))
    assert base64.b64decode(inlined[0])[:4] == b"\x89PNG"


@BROWSER
def test_every_page_fits_a_phone(passing: dict[str, Any]):
    layout = {c["id"]: c["status"] for c in passing["checks"] if c["id"].startswith("layout:")}
    assert layout["layout:page-buy-permit@phone"] == "passed"
    assert set(layout.values()) == {"passed"}
    assert len(layout) == sum(1 for c in passing["checks"] if c["id"].startswith("render:"))


@BROWSER
def test_the_junit_xml_names_every_check(passing: dict[str, Any]):
    junit = store().get_evidence(f"{vc.EVIDENCE_PREFIX}{passing['runId']}/junit.xml")
    assert junit is not None
    assert junit.count(b"<testcase") == len(passing["checks"])
    assert b"<failure" not in junit


@BROWSER
def test_verify_show_prints_a_runs_manifest_and_checks(passing: dict[str, Any]):
    result = cli(passing_stacks(), "verify", "show", SLUG, "--run", passing["runId"], "--json")
    assert result.exit_code == 0, result.output
    shown = validate("verify-show", json.loads(result.stdout))
    human = cli(passing_stacks(), "verify", "show", SLUG, "--run", passing["runId"])

    assert shown["bundleHash"] == passing["bundleHash"]
    assert shown["manifest"]["release"] == passing["release"]
    assert shown["manifest"]["configHash"] == passing["configHash"]
    assert shown["tampered"] == [] and shown["report"] is None
    assert {c["id"]: c["status"] for c in shown["checks"]} == {
        c["id"]: c["status"] for c in passing["checks"]
    }
    assert human.exit_code == 0
    assert f"run {passing['runId']}" in human.stdout and "passed (" in human.stdout
    assert passing["configHash"] in human.stdout


@BROWSER
def test_verify_show_without_a_run_shows_the_latest(passing: dict[str, Any]):
    result = cli(passing_stacks(), "verify", "show", SLUG, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["runId"] == max(store().evidence_runs())
    assert passing["runId"] in store().evidence_runs()


@BROWSER
def test_verify_show_open_writes_the_report_to_a_local_file(
    passing: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    result = cli(passing_stacks(), "verify", "show", SLUG, "--run", passing["runId"], "--open")

    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip().splitlines()[-1])
    assert written.parent == tmp_path and written.name.endswith(f"{passing['runId']}.html")
    report = store().get_evidence(f"{vc.EVIDENCE_PREFIX}{passing['runId']}/report.html")
    assert written.read_bytes() == report


@BROWSER
def test_verify_show_names_a_file_that_no_longer_matches_its_manifest(
    passing: dict[str, Any],
):
    key = f"{vc.EVIDENCE_PREFIX}{passing['runId']}/report.html"
    s = store()
    original = s.get_evidence(key)
    assert original is not None
    s.put_evidence(key, original.replace(b"passed", b"PASSED"), "text/html")
    try:
        result = cli(passing_stacks(), "verify", "show", SLUG, "--run", passing["runId"])
        opened = cli(passing_stacks(), "verify", "show", SLUG, "--run", passing["runId"], "--open")
    finally:
        s.put_evidence(key, original, "text/html")

    assert "report.html does not match the manifest" in result.stdout
    assert opened.exit_code == 3 and "does not match its manifest" in opened.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", SLUG, "--stage", "production"], 3, "demo-production has no verify run yet"),
        (["show", SLUG, "--run", "20990101T000000Z-abcdef"], 2, "has no verify run"),
        (["show", SLUG, "--run", "../x"], 2, "is not a verify run id"),
        ([SLUG, "--release", "no-such-release"], 2, "demo-preview has no such release"),
        ([SLUG, "--release", "../etc"], 2, "--release '../etc'"),
    ],
)
def test_bad_runs_and_releases_are_one_line(demo: Path, args: list[str], code: int, message: str):
    result = cli(demo, "verify", *args)

    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_verify_release_checks_that_release_not_the_served_one(demo: Path):
    s = store()
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    files = {key: s.read(release.id, key) for key in release.files}
    files[page("buy-permit")] = read_page("buy-permit").replace("${permit_type_table}", "").encode()
    candidate = s.publish(files, source="test")  # published, not served

    result = cli(demo, "verify", SLUG, "--release", candidate.id, "--json")

    assert result.exit_code == 3, result.output
    doc = validate("verify-run", json.loads(result.stdout))
    assert doc["release"] == candidate.id != current.release
    assert any(k.startswith("permit-type:") for k in failures(doc))
    assert s.current() == current


# ------------------------------------------------------------------ failing runs

BROKEN_LINK = '<a href="/no-such-page">x</a>'
MISSING_ASSET = '<img src="/missing-logo.png" alt="Logo">'
NO_ALT = '<img id="hero-photo" src="/_preview/external-image.svg">'
WIDE = '<pre id="wide-code">' + "PERMIT-" * 80 + "</pre>"
FAINT = '<p id="faint-note" style="color:#d0d0d0;background:#ffffff">Office hours</p>'


@pytest.fixture(scope="module")
def broken(demo: Path) -> dict[str, Any]:
    """One run on a release broken on a different page in each way (each page's checks are
    independent, so one run shows each failure): a broken link on help, a missing asset on
    pay-violation, an image without alt text on home (critical for axe-core), text too faint
    to read on account (serious), the permit table lost from buy-permit,
    an unknown placeholder in the welcome email, a line that cannot wrap on sign-in."""
    s = store()
    current = s.current()
    assert current is not None
    welcome = s.read(current.release, "email/welcome.html").decode()

    def add(name: str, html: str) -> bytes:
        return read_page(name).replace("</main>", html + "</main>", 1).encode()

    edit = {
        page("help"): add("help", BROKEN_LINK),
        page("pay-violation"): add("pay-violation", MISSING_ASSET),
        page("home"): add("home", NO_ALT),
        page("sign-in"): add("sign-in", WIDE),
        page("account"): add("account", FAINT),
        page("buy-permit"): read_page("buy-permit").replace("${permit_type_table}", "").encode(),
        "email/welcome.html": (welcome + "${no_such_value}").encode(),
    }
    with broken_release(edit):
        return run_failing(demo)


def test_a_broken_internal_link_fails_naming_the_page(broken: dict[str, Any]):
    found = failures(broken)
    assert found["links:page-help"] == "link to /no-such-page answers 404"
    assert [k for k in found if k.startswith("links:")] == ["links:page-help"]


def test_a_missing_asset_fails_naming_the_page_and_the_file(broken: dict[str, Any]):
    found = failures(broken)
    renders = sorted(k for k in found if k.startswith("render:"))
    assert renders == ["render:page-pay-violation@desktop", "render:page-pay-violation@phone"]
    assert re.match(r"404 for http://127\.0\.0\.1:\d+/missing-logo\.png", found[renders[0]])


def test_an_image_without_alt_text_fails_accessibility_naming_the_element(
    broken: dict[str, Any],
):
    found = failures(broken)
    a11y = sorted(k for k in found if k.startswith("a11y:page-home"))
    assert a11y == ["a11y:page-home@desktop", "a11y:page-home@phone"]
    assert found["a11y:page-home@desktop"].startswith("image-alt (critical) on #hero-photo")


def test_a_serious_accessibility_finding_fails_naming_the_element(broken: dict[str, Any]):
    found = failures(broken)
    a11y = sorted(k for k in found if k.startswith("a11y:"))
    assert a11y == [f"a11y:page-{p}@{w}" for p in ("account", "home") for w in vc.WIDTHS]
    assert found["a11y:page-account@phone"].startswith("color-contrast (serious) on #faint-note")


def test_lots_and_permit_types_missing_from_the_portal_fail_naming_each(broken: dict[str, Any]):
    found = failures(broken)
    offered = {k: v for k, v in found.items() if k.startswith(("permit-type:", "lot:"))}
    checks = {c["id"]: c for c in broken["checks"]}
    assert {k.split(":")[0] for k in offered} == {"permit-type", "lot"}
    assert all(checks[k]["page"] == "/buy-permit" for k in offered)
    price = next(v for k, v in offered.items() if k.startswith("permit-type:"))
    # the names are still in the page's <select>; the prices were only in the table
    assert re.fullmatch(r"'[0-9,]+\.[0-9]{2} USD' not shown", price)
    assert checks["lot:ST1"]["status"] == "not applicable"


def test_a_page_wider_than_a_phone_fails_naming_the_element(broken: dict[str, Any]):
    found = failures(broken)
    layout = {k: v for k, v in found.items() if k.startswith("layout:")}
    assert sorted(layout) == ["layout:page-sign-in@desktop", "layout:page-sign-in@phone"]
    assert re.fullmatch(
        r"\d+ px wide at a 390 px viewport \(pre#wide-code reaches past the edge\)",
        layout["layout:page-sign-in@phone"],
    )


def test_an_email_that_does_not_render_fails_naming_the_email(broken: dict[str, Any]):
    found = failures(broken)
    emails = {k: v for k, v in found.items() if k.startswith("email:")}
    assert list(emails) == ["email:welcome"]
    assert "no_such_value" in emails["email:welcome"]


def test_a_failed_run_writes_its_evidence_with_the_failures(broken: dict[str, Any]):
    junit = store().get_evidence(f"{vc.EVIDENCE_PREFIX}{broken['runId']}/junit.xml")
    assert junit is not None
    assert junit.count(b"<failure") == len(failures(broken))
    assert broken["release"] != ""


def test_a_missing_browser_is_one_line(demo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(browser.CHROMIUM_ENV, "/nonexistent/chromium")
    result = cli(demo, "verify", SLUG)

    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "no headless Chromium at /nonexistent/chromium" in result.stderr


# ------------------------------------------------------------------ imports reconcile

ACCOUNTS = (
    "email,full_name,affiliation,campus_id,phone\n"
    "ana.lee@example.edu,Ana Lee,student,S1000001,+1 555 010 2001\n"
    "bo.kim@example.edu,Bo Kim,staff,E1000002,+1 555 010 2002\n"
    "cy.diaz@example.edu,Cy Diaz,faculty,F1000003,+1 555 010 2003\n"
)


@BROWSER
def test_nothing_imported_is_listed_as_not_applicable(passing: dict[str, Any]):
    checks = {c["id"]: c for c in passing["checks"]}
    assert checks["imports:*"]["status"] == "not applicable"
    assert checks["imports:*"]["detail"] == "nothing was imported"


def test_imports_reconcile_and_a_lost_row_fails_naming_its_key(
    demo: Path, pg_admin_url: str, tmp_path: Path
):
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text(ACCOUNTS)
    emails = ["ana.lee@example.edu", "bo.kim@example.edu", "cy.diaz@example.edu"]
    url = db_url(pg_admin_url, "preview")
    imported = cli(demo, "import", SLUG, "accounts", str(csv_file))
    assert imported.exit_code == 0, imported.output + imported.stderr
    try:
        before = cli(demo, "verify", SLUG, "--json")
        with psycopg.connect(url) as conn:
            conn.execute("DELETE FROM activity.accounts WHERE email = %s", (emails[1],))
        after = cli(demo, "verify", SLUG, "--json")
    finally:
        with psycopg.connect(url) as conn:
            conn.execute("DELETE FROM activity.accounts WHERE email = ANY(%s)", (emails,))
            conn.execute("DELETE FROM stack.imports WHERE kind = 'accounts'")

    assert before.exit_code == 0, before.output + before.stderr
    checks = {c["id"]: c for c in json.loads(before.stdout)["checks"]}
    assert checks["imports:accounts"]["status"] == "passed"
    assert "imports:*" not in checks
    assert after.exit_code == 3, after.output
    assert failures(json.loads(after.stdout)) == {
        "imports:accounts": "1 of 3 imported accounts rows not in the database (bo.kim@example.edu)"
    }
