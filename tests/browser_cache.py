"""Page loads remembered within a test run: what headless Chromium found on a served site.

``verify`` serves a release's files on 127.0.0.1 (each visit's page filled with that
visit's values) and loads every page at each width in Chromium (``browser.load_all``).
What Chromium and axe-core find there is decided by what is served and how it is loaded:
the files, the visits (path, values, widths, whether axe runs), each load's viewport,
the axe script and rules, and the browser. The pages are static (no script of their
own, no clock, no randomness, no outside request), so the same site loaded the same way
gives the same text, links, errors, violations and document size, and screenshots of
the same size (Chromium's pixels and PNG bytes are not exactly the same from one load
to the next). A go-live test verifies preview, then production serving the same release
with the same configuration: two loads of one site, about 25 s of CPU each.

So each load of a site is kept, keyed by the SHA-256 of everything above (the base URL,
a new port each run, left out and put back), in a folder the run's xdist workers share.
A later load of the same site, in any test of the run, gets the kept findings re-based
on its own URL and the kept screenshots written where it asked. A load nobody made yet
runs the real browser; a per-key lock makes a second worker wait for it rather than
load the same pages at the same time. Everything ``verify`` does around the loads
(serving, the checks on what was found, the evidence bundle, recording the run) runs for
real every time.

A test marked ``real_browser`` (tests/test_verify.py's tests of what Chromium finds)
always loads for real, and keeps what it found for the others. With
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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.ops.verify import browser
from infra.ops.verify.site import VerifySite

BASE = "\x00base\x00"
"""Stands for the base URL in what is kept (never in a page: a NUL)."""

LoadAll = Callable[[Sequence[browser.Load], str], list[browser.Loaded]]


def site_key(site: VerifySite, base: str, loads: Sequence[browser.Load], executable: str) -> str:
    """What decides the loads' findings: the served files, the visits, each load's URL
    (relative to *base*), viewport and whether axe runs, the axe script and rules, the
    page-state script and the browser at *executable*."""
    digest = hashlib.sha256()

    def add(value: Any) -> None:
        digest.update(json.dumps(value, sort_keys=True, default=str).encode() + b"\n")

    add(sorted((name, hashlib.sha256(body).hexdigest()) for name, body in site.files.items()))
    add([dataclasses.asdict(v) for _, v in sorted(site.visits.items())])
    add(
        [
            (load.key, load.url.removeprefix(base), load.width, load.height, load.accessibility)
            for load in loads
        ]
    )
    add((browser.AXE_TAGS, browser._AXE_RUN, browser._PAGE_STATE, executable))
    add(hashlib.sha256(browser.axe_source().encode()).hexdigest())
    return digest.hexdigest()


def _rebase(value: Any, old: str, new: str) -> Any:
    """*value* (JSON-able) with every *old* in its strings written as *new*."""
    return json.loads(json.dumps(value).replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def _keep(loaded: Sequence[browser.Loaded], base: str) -> list[dict[str, Any]]:
    """What was found, with the base URL written as ``BASE``."""
    return [_rebase(dataclasses.asdict(page), base, BASE) for page in loaded]


def _restore(kept: Sequence[dict[str, Any]], base: str) -> list[browser.Loaded]:
    """What ``_keep`` kept, on *base*."""
    return [browser.Loaded(**_rebase(page, BASE, base)) for page in kept]


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
    def _locked(self, key: str) -> Iterator[None]:
        """*key*'s lock, across the run's processes, for the block."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, path: Path, loads: Sequence[browser.Load], loaded: Any, base: str) -> None:
        """Keep *loaded* and the screenshots *loads* wrote (renamed into place: whole)."""
        shots = {load.key: load.screenshot.read_bytes() for load in loads}
        partial = path.with_suffix(".partial")
        partial.write_bytes(pickle.dumps((_keep(loaded, base), shots)))
        partial.replace(path)

    def load_all(
        self, real: LoadAll, loads: Sequence[browser.Load], executable: str
    ) -> list[browser.Loaded]:
        """``browser.load_all`` (*real*) of *loads*, or what it found on the same site."""
        base = next((b for b in self.sites if loads and loads[0].url.startswith(b + "/")), None)
        if not self.enabled or base is None:
            self.counts["bypassed"] += 1
            return real(loads, executable)
        key = site_key(self.sites[base], base, loads, executable)
        path = self.folder / f"{key}.pickle"
        if self.real():  # loads for real, not holding the lock, and keeps it for the others
            loaded = real(loads, executable)
            self.counts["bypassed"] += 1
            with self._locked(key):
                if not path.exists():
                    self._write(path, loads, loaded, base)
            return loaded
        with self._locked(key):
            if path.exists():
                kept, shots = pickle.loads(path.read_bytes())
                for load in loads:
                    load.screenshot.write_bytes(shots[load.key])
                self.counts["reused"] += 1
                return _restore(kept, base)
            loaded = real(loads, executable)
            self._write(path, loads, loaded, base)
            self.counts["kept"] += 1
            return loaded

    @contextmanager
    def serving(self, real: Callable[[VerifySite], Any], site: VerifySite) -> Iterator[str]:
        """``serving`` (*real*) of *site*, noting which site is at the base URL it yields."""
        with real(site) as base:
            self.sites[base] = site
            try:
                yield base
            finally:
                self.sites.pop(base, None)
