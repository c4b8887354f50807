"""The pull client against the mock vendor APIs on 127.0.0.1: paging, modified_since,
retries, a vendor that times out and one that pages forever."""

from __future__ import annotations

import pytest

from infra.core.errors import DependencyUnreachable, ExitCode
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.adapters.registry import adapter_for
from infra.core.integrations.times import timezone
from infra.devtools.mockvendors import MockPullAPI, VendorSession
from infra.ops.integrations.pull import VendorMisbehaving, pull

CONTEXT = AdapterContext("pm-main", timezone("America/Toronto"), "USD")
SESSIONS = [
    VendorSession(
        f"v{i}",
        f"PL{i}",
        "1020",
        "2026-05-01T09:00:00",
        "2026-05-01T10:00:00",
        modified=1_780_000_000 + i,
    )
    for i in range(5)
]
SHAPES = [("apds", "/apds/sessions"), ("parkmobile", "/parkmobile/parkingRights")]


@pytest.mark.parametrize(("vendor", "path"), SHAPES)
def test_pull_follows_every_page(vendor: str, path: str) -> None:
    with MockPullAPI(SESSIONS, page_size=2) as api:
        result = pull(api.url + path, adapter_for(vendor, "pull"), CONTEXT, 0)

    assert [r.source_id for r in result.records] == ["v0", "v1", "v2", "v3", "v4"]
    assert result.pages == 3 and result.rejections == ()
    assert all(r.start.utcoffset() is not None for r in result.records)


@pytest.mark.parametrize(("vendor", "path"), SHAPES)
def test_pull_asks_only_for_what_changed_since(vendor: str, path: str) -> None:
    with MockPullAPI(SESSIONS, page_size=10) as api:
        result = pull(api.url + path, adapter_for(vendor, "pull"), CONTEXT, 1_780_000_002)

    assert [r.source_id for r in result.records] == ["v3", "v4"]
    assert all("modified_since=1780000002" in r for r in api.requests)


def test_pull_retries_a_vendor_that_fails_once_per_page() -> None:
    with MockPullAPI(SESSIONS, page_size=2, mode="flaky") as api:
        result = pull(api.url + "/apds/sessions", adapter_for("apds", "pull"), CONTEXT, 0,
                      backoff_s=0.01)  # fmt: skip

    assert len(result.records) == 5
    assert len(api.requests) == result.requests == 6  # three pages, each refused once (503)


def test_a_vendor_that_does_not_answer_times_out_and_says_so() -> None:
    # The vendor answers after 3 s: had the timeout not applied, the pull would succeed.
    with (
        MockPullAPI(SESSIONS, mode="slow", slow_s=3) as api,
        pytest.raises(DependencyUnreachable) as caught,
    ):
        pull(api.url + "/apds/sessions", adapter_for("apds", "pull"), CONTEXT, 0,
             timeout_s=0.3, attempts=2, backoff_s=0.01)  # fmt: skip

    message = str(caught.value)
    assert caught.value.exit_code is ExitCode.UNREACHABLE
    assert "did not answer" in message and "after 2 attempts of 0.3 s" in message
    assert "nothing was stored" in message
    assert len(api.requests) == 2


@pytest.mark.parametrize(("vendor", "path"), SHAPES)
def test_a_vendor_that_pages_forever_is_stopped_at_the_cap(vendor: str, path: str) -> None:
    with (
        MockPullAPI(SESSIONS, page_size=2, mode="forever") as api,
        pytest.raises(VendorMisbehaving, match="still paging after 7 pages; nothing was stored"),
    ):
        pull(api.url + path, adapter_for(vendor, "pull"), CONTEXT, 0, max_pages=7)

    assert len(api.requests) == 7


def test_a_refused_credential_is_not_retried_nor_shown() -> None:
    with (
        MockPullAPI(SESSIONS, token="right-token") as api,
        pytest.raises(VendorMisbehaving, match="HTTP 401; check the integration's endpoint") as e,
    ):
        pull(api.url + "/apds/sessions", adapter_for("apds", "pull"), CONTEXT, 0, token="wrong")

    assert len(api.requests) == 1
    assert "wrong" not in str(e.value)
