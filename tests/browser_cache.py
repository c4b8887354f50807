"""Page loads remembered within a test run: what headless Chromium found on a served site.

``verify`` serves a release's files on 127.0.0.1 (each visit's page filled with that
visit's values) and loads every page at each width in Chromium (``browser.load_all``),
each load in a page of its own. What Chromium and axe-core find in one load is decided
by what is served and how it is loaded: the page as served at that URL, whatever it asks
for besides itself (the site's stylesheets, images and other files, and the not-found
page a missing one is answered with), the viewport, whether axe runs, the axe script and
rules, and the browser. The pages are static (no script of their own, no clock, no
randomness, no outside request, no frames), so the same page loaded the same way gives
the same text, links, errors, violations and document size, and a screenshot of the same
size (Chromium's pixels and PNG bytes are not exactly the same from one load to the
next). Several go-live tests verify production serving the same release with the same
configuration, and a test that breaks one page verifies 40 loads of which 38 are the
unbroken site's: about 25 s of CPU for each site loaded again.

So each load is kept, keyed by the SHA-256 of everything above (the base URL, a new port
each run, left out and put back), in a folder the run's xdist workers share. A later
load of the same page served the same way, in any test of the run, gets the kept
findings re-based on its own URL and the kept screenshot written where it asked. The
loads nobody made yet run in the real browser (together, in one ``load_all``); per-key
locks make a second worker wait for them rather than load the same pages at the same
time. A page with a frame, an object, an embed or a script (which could load another
page or read any file), or without a doctype (quirks mode), is keyed by every file of its
site; otherwise another HTML file (a page, an email) counts only by its name. Everything
``verify`` does around the loads (serving, the checks on what was found, the evidence
bundle, recording the run) runs for real every time.

A test marked ``real_browser`` (tests/test_verify.py's tests of what Chromium finds on
its passing run) always loads for real, and keeps what it found for the others. With
``TENANTCTL_TEST_FRESH_STATE=1`` (as for the snapshots) nothing is kept or reused.
tests/test_browser_cache.py checks that a kept load is what a fresh one finds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import pickle
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from infra.core import placeholders as ph
from infra.core.content_model import content_type
from infra.ops.verify import browser
from infra.ops.verify.site import VerifySite

BASE = "\x00base\x00"
"""Stands for the base URL in what is kept (never in a page: a NUL)."""

NOT_FOUND = f"{ph.PORTAL_DIR}not-found.html"
"""The page a missing file is answered with: part of every load's key."""
_FRAMES = re.compile(rb"<\s*(i?frame|object|embed|script)\b", re.IGNORECASE)
"""What would make a page load another HTML file of its site as a document or read it
(a frame, an object, an embed; a script could fetch anything)."""
_STANDARDS = re.compile(rb"\s*<!doctype\s+html\s*>", re.IGNORECASE)
"""A page without it renders in quirks mode, where a stylesheet link takes any file (an
HTML file too) as CSS."""

LoadAll = Callable[[Sequence[browser.Load], str], list[browser.Loaded]]


def site_key(site: VerifySite, executable: str, every_page: bool = False) -> str:
    """What every page load of *site* shares: whatever a page asks for besides itself
    (every file that is not HTML, the pages' routes, the not-found page; with
    *every_page*, every HTML file too), the axe script and rules, the page-state script
    and the browser at *executable*. An HTML file (a portal page, an email) changes
    another page's load only as a frame, an object, an embed, through a script, or as a
    quirks-mode stylesheet; a page that could do any of these is keyed by *every_page*.
    Elsewhere only whether it is there counts (its name and route are in the key)."""
    pages = set() if every_page else _html_files(site) - {NOT_FOUND}
    digest = hashlib.sha256()
    for value in (
        sorted(
            (name, "" if name in pages else hashlib.sha256(body).hexdigest())
            for name, body in site.files.items()
        ),
        sorted(site.routes.items()),
        (browser.AXE_TAGS, browser._AXE_RUN, browser._PAGE_STATE, executable),
        hashlib.sha256(browser.axe_source().encode()).hexdigest(),
    ):
        digest.update(json.dumps(value, sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()


def _html_files(site: VerifySite) -> set[str]:
    return {name for name in site.files if content_type(name).startswith("text/html")}


def load_key(site: VerifySite, executable: str, base: str, load: browser.Load) -> str:
    """What decides one load's findings: what the site's pages share (``site_key``), the
    page as served at the load's URL (relative to *base*: its visit's values filled in),
    the viewport and whether axe runs. A page that could load or read another HTML file
    (a frame, an object, an embed, a script, no doctype) is keyed by every file of the site."""
    url = load.url.removeprefix(base)
    status, kind, body = site.answer(url)
    every_page = bool(_FRAMES.search(body)) or not _STANDARDS.match(body)
    shared = site_key(site, executable, every_page=every_page)
    digest = hashlib.sha256(
        json.dumps(
            [shared, url, status, kind, load.width, load.height, load.accessibility]
        ).encode()
    )
    digest.update(body)
    return digest.hexdigest()


def _rebase(value: Any, old: str, new: str) -> Any:
    """*value* (JSON-able) with every *old* in its strings written as *new*."""
    return json.loads(json.dumps(value).replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def _keep(page: browser.Loaded, shot: bytes, base: str) -> bytes:
    """What one load found and its screenshot, with the base URL written as ``BASE``."""
    return pickle.dumps((_rebase(dataclasses.asdict(page), base, BASE), shot))


def _restore(kept: bytes, load: browser.Load, base: str) -> browser.Loaded:
    """What ``_keep`` kept, on *base*, for *load* (its screenshot written where it asks)."""
    page, shot = pickle.loads(kept)
    load.screenshot.write_bytes(shot)
    return dataclasses.replace(browser.Loaded(**_rebase(page, BASE, base)), key=load.key)


class BrowserCache:
    """The run's kept page loads, in *folder*; ``counts`` says how each load went:
    loaded and kept, reused, or loaded whatever was kept (bypassed: a ``real_browser``
    test, or nothing kept under ``TENANTCTL_TEST_FRESH_STATE=1``)."""

    def __init__(self, folder: Path, real: Callable[[], bool] = lambda: False) -> None:
        self.folder = folder
        self.real = real
        """Whether the test running now loads for real (``real_browser``)."""
        self.sites: dict[str, VerifySite] = {}
        """The site served at each base URL (``serving`` is wrapped to note it)."""
        self.enabled = os.environ.get("TENANTCTL_TEST_FRESH_STATE") != "1"
        self.counts = {"kept": 0, "reused": 0, "bypassed": 0}

    @contextmanager
    def _locked(self, keys: Sequence[str]) -> Iterator[None]:
        """The locks of *keys* (taken in order: no two processes wait on each other),
        across the run's processes, for the block."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with ExitStack() as held:
            for key in sorted(set(keys)):
                lock = held.enter_context(open(self.folder / f"{key}.lock", "w"))
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write(self, key: str, load: browser.Load, page: browser.Loaded, base: str) -> None:
        """Keep *page* and *load*'s screenshot under *key* (renamed into place: whole)."""
        path = self.folder / f"{key}.pickle"
        if not path.exists():
            partial = path.with_suffix(".partial")
            partial.write_bytes(_keep(page, load.screenshot.read_bytes(), base))
            partial.replace(path)

    def load_all(
        self, real: LoadAll, loads: Sequence[browser.Load], executable: str
    ) -> list[browser.Loaded]:
        """``browser.load_all`` (*real*) of *loads*, each load that was made before on
        the same page served the same way taken from what it found then."""
        base = next((b for b in self.sites if loads and loads[0].url.startswith(b + "/")), None)
        if not self.enabled or base is None:
            self.counts["bypassed"] += len(loads)
            return real(loads, executable)
        site = self.sites[base]
        keys = [load_key(site, executable, base, load) for load in loads]
        if self.real():  # loads for real, not holding the locks, and keeps it for the others
            loaded = real(loads, executable)
            self.counts["bypassed"] += len(loads)
            with self._locked(keys):
                for key, load, page in zip(keys, loads, loaded, strict=True):
                    self._write(key, load, page, base)
            return loaded
        with self._locked(keys):
            found: dict[int, browser.Loaded] = {}
            for i, (key, load) in enumerate(zip(keys, loads, strict=True)):
                path = self.folder / f"{key}.pickle"
                if path.exists():
                    found[i] = _restore(path.read_bytes(), load, base)
            self.counts["reused"] += len(found)
            missing = [i for i in range(len(loads)) if i not in found]
            if missing:
                fresh = real([loads[i] for i in missing], executable)
                for i, page in zip(missing, fresh, strict=True):
                    self._write(keys[i], loads[i], page, base)
                    found[i] = page
                self.counts["kept"] += len(missing)
            return [found[i] for i in range(len(loads))]

    @contextmanager
    def serving(self, real: Callable[[VerifySite], Any], site: VerifySite) -> Iterator[str]:
        """``serving`` (*real*) of *site*, noting which site is at the base URL it yields."""
        with real(site) as base:
            self.sites[base] = site
            try:
                yield base
            finally:
                self.sites.pop(base, None)
