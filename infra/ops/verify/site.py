"""The release's files served on 127.0.0.1 as the portal serves them, one page load per visit.

The preview server (``infra.ops.content.preview``) answers every request with sample data;
here a page asked for with ``?visit=<id>`` is filled with that visit's values instead
(the configuration's permit table, one citation per violation type).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from infra.core.verify_checks import PageVisit
from infra.ops.content.preview import HOST, PreviewSite, _handler, fill_html

VISIT_PARAMETER = "visit"


class VerifySite(PreviewSite):
    def __init__(self, files: Mapping[str, bytes], visits: Sequence[PageVisit]) -> None:
        super().__init__(files)
        self.visits = {v.id: v for v in visits}

    def answer(self, raw_path: str) -> tuple[int, str, bytes]:
        parts = urlsplit(raw_path)
        visit = self.visits.get(parse_qs(parts.query).get(VISIT_PARAMETER, [""])[0])
        if visit is not None and parts.path in self.routes:
            page = self.files[self.routes[parts.path]].decode("utf-8")
            return 200, "text/html; charset=utf-8", fill_html(page, visit.values).encode()
        return super().answer(raw_path)

    def status(self, path: str) -> int:
        return self.answer(path)[0]

    def served_page(self, visit: PageVisit) -> str:
        return self.answer(f"{visit.path}?{VISIT_PARAMETER}={visit.id}")[2].decode("utf-8")


@contextmanager
def serving(site: VerifySite) -> Iterator[str]:
    """Serve *site* on 127.0.0.1 (a free port) in a thread for the block; yields the base URL."""
    server = ThreadingHTTPServer((HOST, 0), _handler(site))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
