"""A local HTTP server in a thread: what the mock vendors and the local ingest server share."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"


def start(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """*handler* served on 127.0.0.1 (a free port) from a daemon thread, one thread per request."""
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the socket of a server ``start`` made."""
    assert server is not None
    server.shutdown()
    server.server_close()
