"""Headless Chromium from Debian's packages, driven by Playwright (never its own download).

One browser, a small pool of pages loading in parallel; for each page load: the HTTP
responses that failed (missing assets), console errors, the links on the page, its visible
text, the axe-core violations and a PNG screenshot.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from infra.core.errors import PreconditionFailed

CHROMIUM_ENV = "TENANTCTL_CHROMIUM"
"""Path of the Chromium binary; Debian's ``/usr/bin/chromium`` when unset."""
DEFAULT_CHROMIUM = "/usr/bin/chromium"
PARALLEL_PAGES = 4
"""Pages loading at once in the one browser (the machine has 2 cores)."""
LOAD_TIMEOUT_MS = 30_000
AXE_FILE = "axe.min.js"
AXE_VERSION = "4.14.1"
"""The vendored ``vendor/axe.min.js`` (npm axe-core; licence beside it): update both together."""
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
"""The axe-core rule sets run on each page: WCAG 2.2 A and AA, and Deque's best practices
(experimental rules are left out: they change between releases)."""
_AXE_RUN = """async (tags) => (await axe.run(document, {
  runOnly: {type: 'tag', values: tags}, resultTypes: ['violations'],
})).violations"""
_PAGE_STATE = """() => {
  const viewport = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + [...e.classList].map(c => '.' + c).join('');
  const all = [...document.querySelectorAll('body *')];
  // the outermost box wider than the viewport (a table), else the innermost element
  // whose content spills past it (a line that cannot wrap)
  const wide = all.find(e => e.getBoundingClientRect().right > viewport + 1)
    || all.filter(e => e.getBoundingClientRect().left + e.scrollWidth > viewport + 1).pop();
  return {
    text: document.body ? document.body.innerText : '',
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    width: document.documentElement.scrollWidth,
    height: document.documentElement.scrollHeight,
    widest: wide ? name(wide) : '',
  };
}"""
"""The page as loaded: its visible text, its links, the document's size (what a full-page
screenshot shows) and the element that reaches past the viewport's right edge."""


def chromium_path() -> str:
    """The browser to drive, or a one-line error saying how to install it."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    found = shutil.which(path)
    if found is None:
        raise PreconditionFailed(
            f"no headless Chromium at {path}: install Debian's chromium package "
            f"(scripts/bootstrap does) or set {CHROMIUM_ENV} to the browser's path"
        )
    return found


def axe_source() -> str:
    return (files("infra.ops.verify") / "vendor" / AXE_FILE).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Load:
    """One page at one width."""

    key: str
    url: str
    width: int
    height: int
    screenshot: Path
    accessibility: bool = True
    """Whether axe-core runs on this load."""


@dataclass
class Loaded:
    key: str
    url: str
    text: str = ""
    links: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    axe: list[dict[str, Any]] = field(default_factory=list)
    width: int = 0
    """The document's width in CSS px (wider than the viewport: the page scrolls sideways)."""
    height: int = 0
    widest: str = ""
    """The outermost element reaching past the viewport's right edge, as ``tag#id.class``."""


async def _load(context: Any, load: Load, axe: str, pool: asyncio.Semaphore) -> Loaded:
    async with pool:
        out = Loaded(load.key, load.url)
        page = await context.new_page()
        try:
            await page.set_viewport_size({"width": load.width, "height": load.height})
            page.on(
                "response",
                lambda r: out.errors.append(f"{r.status} for {r.url}") if r.status >= 400 else None,
            )
            page.on(
                "requestfailed",
                lambda r: out.errors.append(f"{r.url} failed: {r.failure}"),
            )
            page.on(
                "console",
                lambda m: out.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: out.errors.append(f"script error: {e}"))
            await page.goto(load.url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
            state = await page.evaluate(_PAGE_STATE)
            out.text, out.links = state["text"], state["links"]
            out.width, out.height, out.widest = state["width"], state["height"], state["widest"]
            if load.accessibility:
                await page.add_script_tag(content=axe)
                out.axe = list(await page.evaluate(_AXE_RUN, list(AXE_TAGS)))
            await page.screenshot(path=str(load.screenshot), full_page=True)
        finally:
            await page.close()
        return out


async def _run(loads: Sequence[Load], executable: str) -> list[Loaded]:
    from playwright.async_api import async_playwright

    axe = axe_source()
    pool = asyncio.Semaphore(PARALLEL_PAGES)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context()
            return list(await asyncio.gather(*(_load(context, load, axe, pool) for load in loads)))
        finally:
            await browser.close()


def load_all(loads: Sequence[Load], executable: str) -> list[Loaded]:
    """Load every page (PARALLEL_PAGES at a time) in one headless Chromium at *executable*."""
    try:
        return asyncio.run(_run(loads, executable))
    except PreconditionFailed:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("playwright"):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PreconditionFailed(
                f"headless Chromium ({executable}) could not load the pages: {first}"
            ) from None
        raise
