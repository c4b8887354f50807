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


@pytest.fixture(scope="module")
def passing(demo: Path) -> dict[str, Any]:
    result = cli(demo, "verify", SLUG, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return validate("verify", json.loads(result.stdout))


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
    return validate("verify", json.loads(result.stdout))


def page(name: str) -> str:
    return f"{ph.PORTAL_DIR}{name}.html"


def read_page(name: str) -> str:
    s = store()
    current = s.current()
    assert current is not None
    return s.read(current.release, page(name)).decode()


# ------------------------------------------------------------------ the passing run


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


def test_the_screenshots_show_the_real_pages_at_both_widths(passing: dict[str, Any]):
    s = store()
    prefix = f"{vc.EVIDENCE_PREFIX}{passing['runId']}/"
    sizes = {}
    for width_name, (width, _) in vc.WIDTHS.items():
        png = s.get_evidence(f"{prefix}screenshots/page-buy-permit@{width_name}.png")
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
        sizes[width_name] = int.from_bytes(png[16:20], "big"), len(png)
        # full-page: at least the viewport; the demo's buy-permit table overflows a phone a bit
        assert width <= sizes[width_name][0] < width + 200
        assert sizes[width_name][1] > 20_000  # a rendered page, not a blank one
    report = s.get_evidence(prefix + "report.html")
    assert report is not None
    inlined = re.findall(rb'src="data:image/png;base64,([^"]+)"', report)
    assert len(inlined) == sum(1 for c in passing["checks"] if c["id"].startswith("render:"))
    assert base64.b64decode(inlined[0])[:4] == b"\x89PNG"


def test_the_junit_xml_names_every_check(passing: dict[str, Any]):
    junit = store().get_evidence(f"{vc.EVIDENCE_PREFIX}{passing['runId']}/junit.xml")
    assert junit is not None
    assert junit.count(b"<testcase") == len(passing["checks"])
    assert b"<failure" not in junit


# ------------------------------------------------------------------ failing runs

BROKEN_LINK = '<a href="/no-such-page">x</a>'
MISSING_ASSET = '<img src="/missing-logo.png" alt="Logo">'
NO_ALT = '<img id="hero-photo" src="/_preview/external-image.svg">'


@pytest.fixture(scope="module")
def broken(demo: Path) -> dict[str, Any]:
    """One run on a release broken on a different page in each way (each page's checks are
    independent, so one run shows each failure): a broken link on help, a missing asset on
    pay-violation, an image without alt text on home, the permit table lost from buy-permit,
    an unknown placeholder in the welcome email."""
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
    a11y = sorted(k for k in found if k.startswith("a11y:"))
    assert a11y == ["a11y:page-home@desktop", "a11y:page-home@phone"]
    assert found["a11y:page-home@desktop"].startswith("image-alt (critical) on #hero-photo")


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
