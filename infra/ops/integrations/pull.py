"""Pull a vendor's sessions changed since an instant, page by page, within limits.

Each request has a timeout; a timeout, a refused connection or an HTTP 5xx/429 is
retried with exponential backoff (tenacity) a few times, then the pull fails as
unreachable (exit 5, safe to retry: nothing was stored). A 4xx is not retried (the
credential or the URL is wrong). A vendor that keeps returning pages is stopped at the
page cap, and one whose page cannot be read is stopped at that page: in both cases the
whole pull fails and nothing is returned, so the caller never stores half a window.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from infra.core.errors import DependencyUnreachable, TenantctlError
from infra.core.integrations.adapters.base import Adapter, AdapterContext
from infra.core.integrations.record import MAX_PAYLOAD_BYTES, Rejection, SessionRecord

TIMEOUT_S = 10.0
"""Per request; a vendor that answers slower than this is treated as down."""
ATTEMPTS = 3
MAX_PAGES = 200
"""Most pages in one pull (200 x the vendor's page size): beyond, the vendor pages forever."""


class VendorMisbehaving(TenantctlError):
    """The vendor answered, but not in a way a pull can finish (nothing was stored)."""

    exit_code = DependencyUnreachable.exit_code


class _Transient(Exception):
    """A failure worth retrying (timeout, connection refused, 5xx, 429)."""


@dataclass(frozen=True)
class PullResult:
    records: tuple[SessionRecord, ...]
    rejections: tuple[Rejection, ...]
    pages: int
    requests: int

    def to_json(self) -> dict[str, Any]:
        return {
            "records": len(self.records),
            "rejections": [r.to_json() for r in self.rejections],
            "pages": self.pages,
            "requests": self.requests,
        }


def _get(url: str, headers: dict[str, str], timeout: float) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_PAYLOAD_BYTES + 1)
            return body
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Transient(f"HTTP {exc.code}") from None
        raise VendorMisbehaving(
            f"the vendor refused {_safe(url)} with HTTP {exc.code}; check the integration's "
            "endpoint and credentials"
        ) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Transient(f"{reason}") from None


def _safe(url: str) -> str:
    """*url* without its query (it may carry a token) for messages."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def post_session(
    base_url: str, body: bytes, *, token: str | None = None, timeout_s: float = TIMEOUT_S
) -> None:
    """POST one session (*body*, in the vendor's shape) to the vendor's session endpoint at
    *base_url*: a vendor sandbox's "create a test session". Once, no retry (a retried
    create could make two); unreachable or refused, an error saying which."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as exc:
        raise VendorMisbehaving(
            f"the vendor refused a session posted to {_safe(base_url)} with HTTP {exc.code}; "
            "check the integration's endpoint and credentials"
        ) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
        raise DependencyUnreachable(
            f"vendor at {_safe(base_url)} did not answer ({getattr(exc, 'reason', exc)}) "
            f"within {timeout_s:g} s; retry when it is up"
        ) from None


def pull(
    base_url: str,
    adapter: Adapter,
    context: AdapterContext,
    modified_since: int,
    *,
    token: str | None = None,
    timeout_s: float = TIMEOUT_S,
    attempts: int = ATTEMPTS,
    max_pages: int = MAX_PAGES,
    backoff_s: float = 0.5,
    keep: Callable[[bytes], object] | None = None,
) -> PullResult:
    """Every session *adapter*'s vendor at *base_url* reports changed since
    *modified_since* (Unix seconds), all pages, or an error and nothing. *keep* is given
    each page as received, before it is parsed (the raw archive)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    fetch = retry(
        retry=retry_if_exception_type(_Transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=backoff_s, max=5),
        reraise=True,
    )(_get)
    records: list[SessionRecord] = []
    rejections: list[Rejection] = []
    cursor: str | None = None
    requests = 0
    for page in range(1, max_pages + 1):
        query = {"modified_since": str(modified_since)}
        if cursor is not None:
            query[adapter.page_param] = cursor
        url = f"{base_url}?{urllib.parse.urlencode(query)}"
        try:
            body = fetch(url, headers, timeout_s)
        except _Transient as exc:
            raise DependencyUnreachable(
                f"vendor at {_safe(url)} did not answer ({exc}) after {attempts} attempts of "
                f"{timeout_s:g} s; nothing was stored, the next pull retries"
            ) from None
        finally:
            requests += fetch.statistics.get("attempt_number", 1)
        if keep is not None:
            keep(body)
        result = adapter.parse(body, context)
        if result.rejections and result.rejections[0].item == "payload":
            raise VendorMisbehaving(
                f"page {page} from {_safe(url)} is unreadable: {result.rejections[0].reason}; "
                "nothing was stored"
            )
        records.extend(result.records)
        rejections.extend(result.rejections)
        if result.next_page is None:
            return PullResult(tuple(records), tuple(rejections), page, requests)
        if result.next_page == cursor:
            raise VendorMisbehaving(
                f"the vendor at {_safe(url)} returned the same next page {cursor!r} twice; "
                "nothing was stored"
            )
        cursor = result.next_page
    raise VendorMisbehaving(
        f"the vendor at {_safe(base_url)} was still paging after {max_pages} pages; "
        "nothing was stored (raise the page cap only if the window really is that big)"
    )
