"""The platform's ingest endpoint on the local target: an HTTP server on 127.0.0.1.

It stands where the platform's one wildcard route (``POST /v1/push/*``) is in AWS and
runs the same code, ``infra.ops.lifecycle.integration_ingest.receive_at``, so a push
sent to a stack's ``pushUrl`` goes over HTTP to the integration's receive handler.
Point the platform's ``ingestEndpoint`` output at ``IngestServer.url``.
Developer tooling: nothing in the product imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.core.integrations.record import MAX_PAYLOAD_BYTES
from infra.core.integrations.roundtrip import SIGNATURE_HEADER
from infra.devtools import localhttp
from infra.ops.lifecycle.integration_ingest import PushOutcome, receive_at


@dataclass
class IngestServer:
    """Serves ``POST /v1/push/<client>/<stage>/<integration>`` for the stacks in *stacks_dir*."""

    stacks_dir: Path
    outcomes: list[PushOutcome] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL: what the platform's ``ingestEndpoint`` names."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> IngestServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, outcome: PushOutcome) -> None:
                server.outcomes.append(outcome)
                payload = json.dumps(outcome.to_json()).encode()
                self.send_response(outcome.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._answer(PushOutcome(411, "a push needs a Content-Length"))
                    return
                if length < 0:
                    self._answer(PushOutcome(400, "Content-Length must not be negative"))
                    return
                if length > MAX_PAYLOAD_BYTES:  # refused unread
                    self._answer(PushOutcome(413, f"push body is over {MAX_PAYLOAD_BYTES} bytes"))
                    return
                body = self.rfile.read(length)
                path = urlsplit(self.path).path
                signature = self.headers.get(SIGNATURE_HEADER, "")
                self._answer(receive_at(server.stacks_dir, path, body, signature))

        self._server = localhttp.start(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        localhttp.stop(self._server)
