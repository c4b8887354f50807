"""Mock integration vendors on 127.0.0.1 for tests and the demo: a pull API, a push
sender and a file drop. Developer tooling: nothing in the product imports it.

``MockPullAPI`` serves ``GET /apds/sessions`` (APDS PaginatedListMeta, ``offset``) and
``GET /parkmobile/parkingRights`` (``page`` cursor), both filtered by
``modified_since``; ``POST /parkmobile/parkingRights`` with one ``parkingRights`` item,
or ``POST /apds/sessions`` with one APDS Session, adds a session (a vendor sandbox's
"create a test session", which ``tenantctl integration test`` uses); its ``mode`` makes
it misbehave for fault tests: ``slow`` sleeps longer than any sane timeout, ``forever``
always promises one more page, ``flaky`` fails the first request of each page with
HTTP 503.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from infra.core.integrations.roundtrip import SIGNATURE_HEADER, sign
from infra.devtools import localhttp

Mode = Literal["ok", "slow", "forever", "flaky"]


@dataclass
class VendorSession:
    """One session as the mock vendor knows it; rendered in each vendor's shape."""

    id: str
    plate: str
    zone: str
    start: str
    end: str
    modified: int
    """Unix seconds of the last change (ParkMobile's version; APDS's modified_since)."""
    version: int = 1
    amount: str = "2.00"
    status: str = "active"
    """ParkMobile's status; ``test`` is a TEST session (APDS: the ``x-test`` extension)."""

    def apds(self) -> dict[str, Any]:
        return {
            **({"x-test": True} if self.status == "test" else {}),
            "id": self.id,
            "version": self.version,
            "actualStart": self.start,
            "actualEnd": self.end,
            "initiator": {"id": "mock-app", "version": 1},
            "identifiedCredentials": [
                {
                    "type": "licensePlate",
                    "identifier": {"className": "Plate", "id": self.plate},
                    "issuer": {"en": "mock"},
                }
            ],
            "segments": [
                {
                    "id": f"{self.id}-1",
                    "version": 1,
                    "actualStart": self.start,
                    "assignedRight": {"id": "right", "version": 1},
                    "validationType": ["licensePlate"],
                    "financialTransaction": {
                        "segmentValue": self.amount,
                        "currencyType": "USD",
                        "serviceProvider": {"en": "mock"},
                        "taxIncluded": True,
                    },
                }
            ],
            "hierarchyElement": {"id": self.zone, "version": 1},
        }

    def parkmobile(self) -> dict[str, Any]:
        return {
            "parkingActionId": self.id,
            "lpn": self.plate,
            "lpnState": "ON",
            "zoneCode": self.zone,
            "startTimeLocal": self.start,
            "endTimeLocal": self.end,
            "parkingPrice": self.amount,
            "currency": "USD",
            "lastModifiedUtc": self.modified,
            "status": self.status,
        }


def _from_apds(session: dict[str, Any]) -> VendorSession:
    """An APDS Session posted to the sandbox, as the mock keeps it (stamped now)."""
    (credential,) = session["identifiedCredentials"]
    return VendorSession(
        str(session["id"]),
        str(credential["identifier"]["id"]),
        str(session["hierarchyElement"]["id"]),
        str(session["actualStart"]),
        str(session["actualEnd"]),
        int(time.time()),
        version=int(session.get("version", 1)),
        amount="0.00",
        status="test" if session.get("x-test") is True else "active",
    )


@dataclass
class MockPullAPI:
    """A vendor's pull API on 127.0.0.1 (a free port); use as a context manager."""

    sessions: list[VendorSession]
    page_size: int = 2
    mode: Mode = "ok"
    slow_s: float = 5.0
    token: str | None = None
    """When set, a request without ``Authorization: Bearer <token>`` gets HTTP 401."""
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> MockPullAPI:
        api = self
        seen: set[str] = set()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                api.requests.append(f"POST {self.path}")
                if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
                    self.send_error(401)
                    return
                path = urllib.parse.urlsplit(self.path).path
                if path not in ("/parkmobile/parkingRights", "/apds/sessions"):
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    if path == "/apds/sessions":  # one APDS Session; the vendor stamps it
                        api.sessions.append(_from_apds(json.loads(self.rfile.read(length))))
                        self.send_response(201)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    (item,) = json.loads(self.rfile.read(length))["parkingRights"]
                    api.sessions.append(
                        VendorSession(
                            str(item["parkingActionId"]),
                            str(item["lpn"]),
                            str(item["zoneCode"]),
                            str(item["startTimeLocal"]),
                            str(item["endTimeLocal"]),
                            int(item["lastModifiedUtc"]),
                            amount="0.00",
                            status=str(item.get("status", "active")),
                        )
                    )
                except (ValueError, KeyError, TypeError):
                    self.send_error(400)
                    return
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                api.requests.append(self.path)
                if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
                    self.send_error(401)
                    return
                if api.mode == "slow":
                    time.sleep(api.slow_s)
                if api.mode == "flaky" and self.path not in seen:
                    seen.add(self.path)
                    self.send_error(503)
                    return
                since = int(query.get("modified_since", "0"))
                changed = [s for s in api.sessions if s.modified > since]
                if parts.path == "/apds/sessions":
                    offset = int(query.get("offset", "0"))
                    page = changed[offset : offset + api.page_size]
                    total = len(changed) + (10**6 if api.mode == "forever" else 0)
                    body: dict[str, Any] = {
                        "meta": {
                            "referenceInstant": 0,
                            "offset": offset,
                            "pageSize": api.page_size,
                            "total": total,
                        },
                        # forever: past the end it serves the first page again, promising more
                        "data": [
                            s.apds()
                            for s in (
                                page or (changed[: api.page_size] if api.mode == "forever" else [])
                            )
                        ],
                    }
                elif parts.path == "/parkmobile/parkingRights":
                    offset = int(query.get("page", "0"))
                    page = changed[offset : offset + api.page_size]
                    more = offset + api.page_size < len(changed) or api.mode == "forever"
                    body = {
                        "parkingRights": [s.parkmobile() for s in page],
                        "nextPage": str(offset + api.page_size) if more else None,
                    }
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self._server = localhttp.start(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        localhttp.stop(self._server)


# ------------------------------------------------------------------ push


@dataclass
class PushReceiver:
    """A stand-in for the platform's ingest route: checks the HMAC, keeps the bodies."""

    secret: bytes
    bodies: list[bytes] = field(default_factory=list)
    refused: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/ingest"

    def __enter__(self) -> PushReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                expected = sign(body, receiver.secret)
                if not hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected):
                    receiver.refused += 1
                    self.send_error(401)
                    return
                receiver.bodies.append(body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = localhttp.start(Handler)
        return self

    def __exit__(self, *exc: object) -> None:
        localhttp.stop(self._server)


def push(url: str, body: bytes, secret: bytes, *, timeout: float = 5.0) -> int:
    """POST *body* signed with *secret*, as a vendor's webhook does; the HTTP status."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def enforcement_data(events: Sequence[dict[str, Any]]) -> bytes:
    """A generic-push body (OPS-COM / Parknexus shape) of *events*."""
    return json.dumps({"enforcementData": list(events)}).encode()


# ------------------------------------------------------------------ file drop


def drop_file(
    folder: Path, name: str, rows: Sequence[dict[str, str]], delimiter: str = ","
) -> Path:
    """Write a CSV of *rows* into *folder* the way an SFTP drop should: whole or not at all
    (a temporary name, then a rename)."""
    out = io.StringIO()
    columns = list(rows[0]) if rows else ["session_id"]
    writer = csv.DictWriter(out, columns, delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.partial"
    partial.write_text(out.getvalue(), encoding="utf-8")
    os.replace(partial, folder / name)
    return folder / name


@contextmanager
def pull_api(sessions: list[VendorSession], **options: Any) -> Iterator[MockPullAPI]:
    with MockPullAPI(sessions, **options) as api:
        yield api
