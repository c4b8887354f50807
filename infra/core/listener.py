"""What the shared load balancer answers for a production that is not live yet.

Pure logic: spec validation checks the page against the ALB's fixed-response
limit (``infra.core.limits``) and the program serves exactly this text.
"""

from __future__ import annotations

import html

COMING_SOON_STATUS = "503"
COMING_SOON_CONTENT_TYPE = "text/html"


def coming_soon_page(display_name: str) -> str:
    """The short page production hosts answer with until go-live (at most 1 KiB)."""
    title = html.escape(display_name)
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>Coming soon.</p></body></html>"
    )
