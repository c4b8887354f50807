"""content preview in headless Chromium (Debian's chromium): every page and every email
renders with no console error or failed load, and no link between pages is broken."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from infra.core import placeholders
from infra.core.rendering import render_content
from infra.devtools import browser
from infra.ops.content.edit import read_folder
from infra.ops.content.preview import routes, serving
from tests.helpers import demo_spec

pytestmark = pytest.mark.skipif(
    not browser.available(), reason="needs Debian's chromium at /usr/bin/chromium"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """The demo's preview defaults written to a folder, as `content pull` would, and served."""
    folder = tmp_path_factory.mktemp("content")
    for key, body in render_content(demo_spec("preview")).items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(body)
    files = read_folder(folder)
    with serving(files) as url, browser.Browser() as chromium:
        yield url, files, chromium


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_every_page_and_email_renders_without_errors_or_broken_links(site, tmp_path: Path):
    url, files, chromium = site
    pages = [*routes(files), "/emails/"]
    pages += [f"/emails/{name}" for name in placeholders.EMAILS]
    reports = [chromium.visit(url + path) for path in pages]

    errors = {r.url: r.errors for r in reports if r.errors}
    internal = {
        urlsplit(link)._replace(fragment="").geturl()
        for r in reports
        for link in r.links
        if link.startswith(url)
    }
    broken = sorted(link for link in internal if status(link) != 200)

    assert errors == {}
    assert broken == []
    assert len(internal) > 5
    assert all(r.title for r in reports)


def test_pages_show_sample_data_and_branding(site):
    url, _, chromium = site
    report = chromium.visit(url + "/account")
    with urllib.request.urlopen(url + "/account", timeout=10) as response:
        page = response.read().decode()

    assert report.errors == []
    assert "Alex Rivera" in page and "${" not in page
    assert "Demo State University" in report.title


def test_unknown_path_answers_not_found(site):
    url, _, _ = site
    assert status(url + "/no-such-page") == 404
