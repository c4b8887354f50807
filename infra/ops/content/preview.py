"""``tenantctl content preview``: serve a release or a folder on 127.0.0.1 with sample data.

Pages are served at the paths the portal uses (``infra.core.placeholders.PAGES``),
``${placeholders}`` filled with ``SAMPLE_VALUES`` (HTML-escaped unless the
placeholder is an HTML fragment), so the client and the trainer see every page
as the public would. ``/emails/`` lists every email; ``/emails/<name>`` shows
its subject and HTML body, ``/emails/<name>.txt`` the text body. Forms post
back to the page they are on (nothing is stored). Images from other origins
are shown as a placeholder, because a preview must work without the internet.

Read-only: it never writes to the bucket or the database.
"""

from __future__ import annotations

import html
import json
import mimetypes
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.core import placeholders as ph

HOST = "127.0.0.1"
PLACEHOLDER_IMAGE = "/_preview/external-image.svg"
_EXTERNAL_IMG = re.compile(r'(<img\b[^>]*?\bsrc=")(https?:)?//[^"]*(")', re.I)
_IMAGE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40">'
    b'<rect width="40" height="40" rx="6" fill="#ccc"/></svg>'
)


def fill_html(text: str, values: Mapping[str, str] = ph.SAMPLE_VALUES) -> str:
    """A page or email as served: placeholders filled (HTML-escaped unless a fragment) and
    images from other origins replaced by a local placeholder."""
    escaped = {k: v if k in ph.FRAGMENTS else html.escape(v, quote=True) for k, v in values.items()}
    return _EXTERNAL_IMG.sub(rf"\g<1>{PLACEHOLDER_IMAGE}\g<3>", ph.fill(text, escaped))


def routes(files: Mapping[str, bytes]) -> dict[str, str]:
    """URL path -> content key of every page the folder or release has."""
    out: dict[str, str] = {}
    for key in files:
        if key.startswith(ph.PORTAL_DIR) and key.endswith(".html"):
            name = key[len(ph.PORTAL_DIR) : -len(".html")]
            path = ph.PAGES[name][0] if name in ph.PAGES else f"/{name}"
            out[path] = key
    return out


def _email_index(files: Mapping[str, bytes]) -> str:
    subjects = json.loads(files.get(ph.SUBJECTS_FILE, b"{}"))
    items = "".join(
        f'<li><a href="/emails/{name}">{html.escape(ph.fill(subjects.get(name, name)))}</a>'
        f' (<a href="/emails/{name}.txt">text</a>) — sent when {html.escape(when)}</li>'
        for name, (when, _) in ph.EMAILS.items()
        if f"email/{name}.html" in files
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Emails</title>'
        '<link rel="stylesheet" href="/styles.css"></head><body><main id="main">'
        f'<h1>Emails</h1><ul class="email-list">{items}</ul><p><a href="/">Portal</a></p>'
        "</main></body></html>"
    )


class PreviewSite:
    """The files of one release or folder, answered per request."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)
        self.routes = routes(self.files)

    def answer(self, raw_path: str) -> tuple[int, str, bytes]:
        path = urlsplit(raw_path).path
        if path == PLACEHOLDER_IMAGE:
            return 200, "image/svg+xml", _IMAGE_SVG
        if path == "/favicon.ico" and "portal/favicon.ico" not in self.files:
            return 204, "image/x-icon", b""  # the application's own icon, not content
        if path in ("/emails", "/emails/"):
            return 200, "text/html; charset=utf-8", _email_index(self.files).encode()
        if path.startswith("/emails/"):
            name = path[len("/emails/") :]
            key = f"email/{name}" if name.endswith(".txt") else f"email/{name}.html"
            if key in self.files:
                text = self.files[key].decode("utf-8")
                if key.endswith(".txt"):
                    return 200, "text/plain; charset=utf-8", ph.fill(text).encode()
                return 200, "text/html; charset=utf-8", fill_html(text).encode()
        if path in self.routes:
            page = self.files[self.routes[path]].decode("utf-8")
            return 200, "text/html; charset=utf-8", fill_html(page).encode()
        asset = f"{ph.PORTAL_DIR}{path.lstrip('/')}"
        if asset in self.files and not asset.endswith(".html"):
            kind = mimetypes.guess_type(asset)[0] or "application/octet-stream"
            return 200, kind, self.files[asset]
        missing = self.files.get(f"{ph.PORTAL_DIR}not-found.html", b"<h1>Not found</h1>")
        return 404, "text/html; charset=utf-8", fill_html(missing.decode()).encode()


def _handler(site: PreviewSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(*site.answer(self.path))

        def do_POST(self) -> None:
            # Forms go nowhere in a preview: show the page they were posted from.
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", self.headers.get("Referer") or "/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the CLI says where it serves

    return Handler


@contextmanager
def serving(files: Mapping[str, bytes], port: int = 0) -> Iterator[str]:
    """Serve *files* on 127.0.0.1 in a thread for the block; yields the base URL."""
    server = ThreadingHTTPServer((HOST, port), _handler(PreviewSite(files)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serve_forever(files: Mapping[str, bytes], port: int, ready: Any) -> None:
    """Serve until interrupted; *ready* is called with the base URL first."""
    server = ThreadingHTTPServer((HOST, port), _handler(PreviewSite(files)))
    ready(f"http://{HOST}:{server.server_address[1]}")
    try:
        server.serve_forever()
    finally:
        server.server_close()
