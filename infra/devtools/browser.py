"""Headless Chromium over the DevTools protocol: load a page, collect console errors,
failed loads and links, take screenshots. Used by the portal-preview tests and the demo.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and ``websocket-client``.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = "/usr/bin/chromium"
_LOAD_TIMEOUT_S = 30.0


def available() -> bool:
    return shutil.which(CHROMIUM) is not None


@dataclass
class PageReport:
    url: str
    title: str = ""
    errors: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium process; ``with Browser() as b: b.visit(url)``."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="tenantctl-chromium-")
        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + _LOAD_TIMEOUT_S
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        self._port = int(port_file.read_text().split()[0])
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _new_page(self) -> websocket.WebSocket:
        request = urllib.request.Request(f"http://127.0.0.1:{self._port}/json/new", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        return websocket.create_connection(target["webSocketDebuggerUrl"], timeout=_LOAD_TIMEOUT_S)

    def _call(
        self, ws: websocket.WebSocket, method: str, events: list[dict[str, Any]], **params: Any
    ) -> Any:
        call_id = next(self._ids)
        ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            events.append(message)

    def visit(self, url: str, screenshot: Path | None = None) -> PageReport:
        """Load *url*; report console errors, uncaught exceptions, failed loads and links."""
        ws = self._new_page()
        events: list[dict[str, Any]] = []
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self._call(ws, f"{domain}.enable", events)
            self._call(ws, "Page.navigate", events, url=url)
            deadline = time.monotonic() + _LOAD_TIMEOUT_S
            while not any(e.get("method") == "Page.loadEventFired" for e in events):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not finish loading")
                events.append(json.loads(ws.recv()))
            time.sleep(0.2)  # late console messages
            result = self._call(
                ws,
                "Runtime.evaluate",
                events,
                expression="JSON.stringify({title: document.title, links: "
                "[...document.querySelectorAll('a[href]')].map(a => a.href)})",
                returnByValue=True,
            )
            page = json.loads(result["result"]["value"])
            if screenshot is not None:
                shot = self._call(ws, "Page.captureScreenshot", events, format="png")
                screenshot.write_bytes(base64.b64decode(shot["data"]))
        finally:
            ws.close()
        report = PageReport(url, page["title"], links=page["links"])
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                report.errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                report.errors.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                report.errors.append(f"{entry.get('text')} ({entry.get('url', '')})")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                report.errors.append(f"load failed: {params.get('errorText')}")
            elif method == "Network.responseReceived":
                response = params["response"]
                if response.get("status", 200) >= 400 and params.get("type") != "Document":
                    report.errors.append(f"{response['status']} for {response['url']}")
        return report
