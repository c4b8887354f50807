"""tests/browser_cache.py: a kept page load is what a fresh load of the same page finds
(re-based on the new URL; screenshots of the same size); a page served or loaded
differently, or one whose site serves something else it asks for, is loaded afresh."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from infra.core.verify_checks import PageVisit
from infra.ops.verify import browser
from infra.ops.verify.site import VISIT_PARAMETER, VerifySite, serving
from tests.browser_cache import BrowserCache, LoadAll
from tests.test_verify import _png_size

# Each test makes its own cache over the real browser.load_all (``load``'s default, bound
# at import, before the run's cache wraps it); the mark keeps the run's cache out too.
pytestmark = pytest.mark.real_browser

PAGE = """<!doctype html><html lang="en"><head><title>Home</title>
<link rel="stylesheet" href="/site.css"><link rel="stylesheet" href="/missing.css"></head>
<body><main><h1>Welcome to ${title}</h1>
<p><a href="/help">Help</a> <a href="/gone">Old page</a></p>
<img src="/logo.svg" width="40" height="40"></main></body></html>"""
FILES = {
    "portal/home.html": PAGE.encode(),
    "portal/help.html": b"<!doctype html><html lang='en'><title>Help</title><main>Help</main>",
    "portal/site.css": b"body { font-family: sans-serif }",
    "portal/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<rect width="40" height="40" fill="#036"/></svg>',
}
FRAMING = {**FILES, "portal/help.html": b"<main>Help <iframe src='/'></iframe></main>"}
"""The site with help showing the home page in a frame."""
EMAIL = {**FILES, "email/welcome.html": b"<!doctype html><p>Welcome</p>"}
"""The site with an email beside its pages (verify renders emails; no page loads one)."""
SCRIPTED = {
    **EMAIL,
    "portal/help.html": b"<!doctype html><title>Help</title><main>Help</main>"
    b"<script src='/help.js'></script>",
    "portal/help.js": b"document.title = 'Help';",
}
"""The site with help running a script (which could fetch any file)."""
QUIRKS = {**EMAIL, "portal/help.html": b"<html lang='en'><title>Help</title><main>Help</main>"}
"""The site with help lacking a doctype (quirks mode: a stylesheet link takes any file)."""
WELCOME = {"email/welcome.html": b"<!doctype html><p>Welcome back</p>"}
VISITS = (
    PageVisit("home", "home", "/", {"title": "Lot 7"}),
    PageVisit("help", "help", "/help", {}),
)


def loads_of(site: VerifySite, base: str, folder: Path) -> list[browser.Load]:
    return [
        browser.Load(
            key,
            f"{base}{v.path}?{VISIT_PARAMETER}={v.id}",
            width,
            800,
            folder / f"{key}.png",
            v.accessibility,
        )
        for v in site.visits.values()
        for key, width in ((f"{v.id}@desktop", 1280), (f"{v.id}@phone", 390))
    ]


def load(
    site: VerifySite,
    folder: Path,
    cache: BrowserCache | None,
    real: LoadAll = browser.load_all,
    held: contextlib.ExitStack | None = None,
) -> list[browser.Loaded]:
    """Every visit of *site* at both widths, through *cache* (or straight to *real*), with
    the base URL written as BASE; the site is served until *held* closes, when given."""
    folder.mkdir()
    executable = "(a stand-in)" if real is stand_in else browser.chromium_path()
    with contextlib.ExitStack() as own:
        served = cache.serving(serving, site) if cache else serving(site)
        base = (held or own).enter_context(served)
        loads = loads_of(site, base, folder)
        if cache is None:
            found = real(loads, executable)
        else:
            found = cache.load_all(real, loads, executable)
    return [_rebase(p, base) for p in found]


def _rebase(page: browser.Loaded, base: str) -> browser.Loaded:
    return dataclasses.replace(
        page,
        url=page.url.replace(base, "BASE"),
        links=[u.replace(base, "BASE") for u in page.links],
        errors=[e.replace(base, "BASE") for e in page.errors],
    )


def stand_in(loads: Sequence[browser.Load], executable: str) -> list[browser.Loaded]:
    """In place of Chromium where only the cache's choice is under test: one blank
    screenshot and an empty finding per load."""
    for load in loads:
        load.screenshot.write_bytes(b"")
    return [browser.Loaded(load.key, load.url) for load in loads]


def shots(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def sizes(folder: Path) -> dict[str, tuple[int, int]]:
    return {path.name: _png_size(path.read_bytes()) for path in sorted(folder.iterdir())}


@pytest.mark.skipif(not Path(browser.DEFAULT_CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_kept_load_is_what_a_fresh_load_finds(tmp_path: Path):
    cache = BrowserCache(tmp_path / "cache")
    site = VerifySite(FILES, VISITS)

    with contextlib.ExitStack() as held:  # the first site stays served: the next port differs
        first = load(site, tmp_path / "first", cache, held=held)
        kept = load(VerifySite(FILES, VISITS), tmp_path / "kept", cache)
    fresh = load(site, tmp_path / "fresh", None)

    assert cache.counts == {"kept": 4, "reused": 4, "bypassed": 0}
    assert kept == fresh == first
    home = kept[0]
    assert "Welcome to Lot 7" in home.text
    assert "BASE/help" in home.links and any("404 for BASE/missing.css" in e for e in home.errors)
    assert any(v["id"] == "image-alt" for v in home.axe)  # axe ran: the image has no alt
    assert (kept[1].width, kept[1].height) == (390, 800)  # the phone load's document
    # the kept screenshots are the first load's, byte for byte; a fresh load draws the same
    # pages at the same sizes (Chromium's pixels and PNG bytes vary from load to load)
    assert shots(tmp_path / "kept") == shots(tmp_path / "first")
    assert (
        sizes(tmp_path / "fresh")
        == sizes(tmp_path / "first")
        == {
            "help@desktop.png": (1280, 800),
            "help@phone.png": (390, 800),
            "home@desktop.png": (1280, 800),
            "home@phone.png": (390, 800),
        }
    )


def _home(visits, **changes):
    return (dataclasses.replace(visits[0], **changes), *visits[1:])


def _edit(**files: bytes):
    return lambda site, visits: ({**site, **{f"portal/{k}": v for k, v in files.items()}}, visits)


@pytest.mark.parametrize(
    ("start", "change", "loaded_again"),
    [
        (FILES, _edit(**{"site.css": b"body { color: red }"}), 4),
        (FILES, _edit(**{"not-found.html": b"<h1>Gone</h1>"}), 4),
        (
            FILES,
            lambda site, visits: ({k: v for k, v in site.items() if "logo" not in k}, visits),
            4,
        ),
        (FILES, _edit(**{"help.html": b"<main>Help!</main>"}), 2),
        (FILES, _edit(**{"home.html": PAGE.encode() + b" "}), 2),
        (FRAMING, _edit(**{"home.html": PAGE.encode() + b" "}), 4),
        (EMAIL, lambda site, visits: ({**site, **WELCOME}, visits), 0),
        (SCRIPTED, lambda site, visits: ({**site, **WELCOME}, visits), 2),
        (QUIRKS, lambda site, visits: ({**site, **WELCOME}, visits), 2),
        (FILES, lambda site, visits: (site, _home(visits, values={"title": "B"})), 2),
        (FILES, lambda site, visits: (site, _home(visits, accessibility=False)), 2),
    ],
    ids=[
        "an asset",
        "the not-found page",
        "a missing asset",
        "another page",
        "the page",
        "a page another page frames",
        "an email",
        "an email, to a page with a script",
        "an email, to a page without a doctype",
        "a visit's values",
        "whether axe runs",
    ],
)
def test_a_page_served_or_loaded_differently_is_loaded_afresh(
    tmp_path: Path, start, change, loaded_again: int
):
    """Two visits at two widths each: the loads of whatever changed are loaded again, and
    the kept and fresh findings come back in the order of the loads, each on its URL."""
    cache = BrowserCache(tmp_path / "cache")
    load(VerifySite(start, VISITS), tmp_path / "first", cache, stand_in)
    files, visits = change(start, VISITS)
    second = load(VerifySite(files, visits), tmp_path / "second", cache, stand_in)

    assert cache.counts == {"kept": 4 + loaded_again, "reused": 4 - loaded_again, "bypassed": 0}
    assert [(p.key, p.url) for p in second] == [
        (f"{v.id}@{width}", f"BASE{v.path}?{VISIT_PARAMETER}={v.id}")
        for v in VISITS
        for width in ("desktop", "phone")
    ]
    assert sorted(p.name for p in (tmp_path / "second").iterdir()) == sorted(
        f"{v.id}@{width}.png" for v in VISITS for width in ("desktop", "phone")
    )


def test_a_real_browser_test_always_loads_and_keeps_what_it_found_for_the_others(
    tmp_path: Path,
):
    marked = [True]
    cache = BrowserCache(tmp_path / "cache", real=lambda: marked[0])
    for name in ("a", "b"):
        load(VerifySite(FILES, VISITS), tmp_path / f"real-{name}", cache, stand_in)
    marked[0] = False
    load(VerifySite(FILES, VISITS), tmp_path / "unmarked", cache, stand_in)

    assert cache.counts == {"kept": 0, "reused": 4, "bypassed": 8}


def test_fresh_state_keeps_and_reuses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TENANTCTL_TEST_FRESH_STATE", "1")
    cache = BrowserCache(tmp_path / "cache")
    for name in ("a", "b"):
        load(VerifySite(FILES, VISITS), tmp_path / f"fresh-{name}", cache, stand_in)

    assert cache.counts == {"kept": 0, "reused": 0, "bypassed": 8}
    assert not (tmp_path / "cache").exists()
