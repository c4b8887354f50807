"""Integrations, pure: vendor adapters, time rules, the session record, the zone matcher.

Property-based (hypothesis) where a rule holds for every input: round trips through
each vendor shape, no naive datetime ever produced, every rejection with a reason."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.core.integration_config import VENDORS, IntegrationSpec
from infra.core.integrations.adapters import (
    apds_pull,
    apds_webhook,
    csv_drop,
    generic_push,
    parkmobile_pull,
)
from infra.core.integrations.adapters.base import AdapterContext
from infra.core.integrations.adapters.registry import (
    ADAPTERS,
    adapter_for,
    adapter_for_integration,
)
from infra.core.integrations.record import (
    MAX_ITEMS,
    MAX_PAYLOAD_BYTES,
    EventKind,
    SessionRecord,
    minor_units,
)
from infra.core.integrations.times import parse_time, timezone
from infra.core.integrations.zones import Lot, VendorZone, assign_lots, match_zones

TZ = timezone("America/Toronto")
CONTEXT = AdapterContext("pm-main", TZ, "USD")
PARSERS = {
    "apds-webhook": apds_webhook.parse,
    "apds-pull": apds_pull.parse,
    "generic": generic_push.parse,
    "parkmobile": parkmobile_pull.parse,
    "csv": csv_drop.parse,
}

plates = st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=1, max_size=10)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=24 * 60).map(lambda m: timedelta(minutes=m))
cents = st.integers(min_value=0, max_value=10_000_00)
kinds = st.sampled_from([EventKind.NEW, EventKind.EXTEND, EventKind.UPDATE, EventKind.TEST])
zones = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
ids = st.text("abcdef0123456789-", min_size=1, max_size=36)


def assert_aware(records: tuple[SessionRecord, ...]) -> None:
    for r in records:
        assert r.start.utcoffset() is not None
        assert r.end is None or r.end.utcoffset() is not None


# ------------------------------------------------------------------ round trips


@settings(deadline=None, max_examples=60)
@given(ids, st.integers(1, 10**6), kinds, plates, zones, instants, durations, cents)
def test_generic_push_round_trips_a_session(
    source: str, version: int, kind: EventKind, plate: str, zone: str,
    start: datetime, length: timedelta, amount: int,
) -> None:  # fmt: skip
    event = {
        "transactionId": source, "version": version, "action": kind.value.lower(),
        "plate": plate, "state": "on", "country": "ca", "zone": zone,
        "startTime": start.isoformat(), "endTime": (start + length).isoformat(),
        "amount": f"{amount / 100:.2f}", "currency": "CAD",
    }  # fmt: skip
    result = generic_push.parse(json.dumps({"enforcementData": [event]}).encode(), CONTEXT)

    assert result.rejections == ()
    (record,) = result.records
    assert (record.source_id, record.version, record.kind) == (source, version, kind)
    assert (record.plate, record.vendor_zone, record.region, record.country) == (
        plate, zone, "ON", "CA",
    )  # fmt: skip
    assert (record.start, record.end) == (start, start + length)
    assert (record.amount_minor, record.currency) == (amount, "CAD")
    assert record.is_test == (kind is EventKind.TEST)


@settings(deadline=None, max_examples=60)
@given(ids, st.integers(1, 10**6), plates, zones, instants, durations, cents)
def test_apds_webhook_round_trips_each_topic(
    source: str, version: int, plate: str, zone: str, start: datetime, length: timedelta,
    amount: int,
) -> None:  # fmt: skip
    session = {
        "id": source, "version": version,
        "actualStart": start.isoformat(), "actualEnd": (start + length).isoformat(),
        "identifiedCredentials": [{"type": "licensePlate", "identifier": {"id": plate}}],
        "segments": [{"financialTransaction": {"segmentValue": amount / 100}}],
        "hierachyElement": {"id": zone, "version": 1},
    }  # fmt: skip
    body = [
        {"topic": topic, "data": [session], "eventTime": "x", "eventSubscriptionId": "s"}
        for topic in ("SessionCreated", "SessionUpdated", "SessionDeleted")
    ]
    result = apds_webhook.parse(json.dumps(body).encode(), CONTEXT)

    assert result.rejections == ()
    assert [r.kind for r in result.records] == [EventKind.NEW, EventKind.UPDATE, EventKind.CANCEL]
    for r in result.records:
        assert (r.source_id, r.version, r.plate, r.vendor_zone) == (source, version, plate, zone)
        assert (r.start, r.end, r.amount_minor, r.currency) == (
            start, start + length, amount, "USD",
        )  # fmt: skip


@settings(deadline=None, max_examples=40)
@given(
    st.lists(st.tuples(ids, plates, zones, instants, durations), min_size=1, max_size=8),
    st.sampled_from([",", ";", "\t"]),
)
def test_csv_drop_round_trips_rows_in_any_dialect(
    rows: list[tuple[str, str, str, datetime, timedelta]], delimiter: str
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["session_id", "version", "kind", "plate", "zone", "start", "end"])
    for source, plate, zone, start, length in rows:
        writer.writerow(
            [source, 1, "NEW", plate, zone, start.isoformat(), (start + length).isoformat()]
        )
    result = csv_drop.parse(("\ufeff" + out.getvalue()).encode(), CONTEXT)

    assert result.rejections == () and result.error_csv is None
    assert [(r.source_id, r.plate, r.vendor_zone, r.start, r.end) for r in result.records] == [
        (source, plate, zone, start, start + length) for source, plate, zone, start, length in rows
    ]


def test_apds_pull_page_maps_sessions_deletions_and_the_next_offset() -> None:
    session = {
        "id": "s1", "version": 2, "actualStart": "2026-05-01T09:00:00-04:00",
        "actualEnd": "2026-05-01T11:00:00-04:00",
        "identifiedCredentials": [{"type": "vehicleplate", "identifier": {"id": "abc 123"}}],
        "hierarchyElement": {"id": "Z1"},
    }  # fmt: skip
    deleted = {"id": "s0", "className": "Session", "deleteTimestamp": "2026-05-01T08:00:00Z"}
    page = {"meta": {"offset": 0, "pageSize": 1, "total": 3, "referenceInstant": 0},
            "data": [session], "deletedReferences": [deleted]}  # fmt: skip

    result = apds_pull.parse(json.dumps(page).encode(), CONTEXT)

    assert [(r.source_id, r.kind, r.plate) for r in result.records] == [
        ("s1", EventKind.UPDATE, "ABC123"), ("s0", EventKind.CANCEL, ""),
    ]  # fmt: skip
    assert result.next_page == "1"


def test_parkmobile_page_uses_last_modified_as_version_and_local_times() -> None:
    right = {
        "parkingActionId": "pm-1", "lpn": "AB-12", "lpnState": "ON", "zoneCode": "4101",
        "startTimeLocal": "2026-07-01T09:00:00", "endTimeLocal": "2026-07-01T10:00:00",
        "parkingPrice": "3.25", "currency": "CAD", "lastModifiedUtc": 1_782_900_000,
        "status": "extended",
    }  # fmt: skip
    result = parkmobile_pull.parse(
        json.dumps({"parkingRights": [right], "nextPage": "c2"}).encode(), CONTEXT
    )

    (record,) = result.records
    assert record.version == 1_782_900_000 and record.kind is EventKind.EXTEND
    assert record.start == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)  # EDT is UTC-4
    assert (record.amount_minor, record.currency, result.next_page) == (325, "CAD", "c2")


# ------------------------------------------------------------------ hostile input

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
KEYS = [
    "enforcementData", "data", "parkingRights", "meta", "topic", "id", "version",
    "actualStart", "startTime", "endTime", "plate", "zone", "action", "transactionId",
]  # fmt: skip


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(PARSERS)),
    st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(
            lambda v: json.dumps(v).encode()
        ),
        st.binary(max_size=200),
    ),
)
def test_no_adapter_raises_or_produces_a_naive_time_on_any_payload(
    name: str, payload: bytes
) -> None:
    result = PARSERS[name](payload, CONTEXT)

    assert_aware(result.records)
    assert all(r.reason.strip() and r.item for r in result.rejections)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_oversized_payloads_are_refused_whole(name: str) -> None:
    limit = csv_drop.MAX_FILE_BYTES if name == "csv" else MAX_PAYLOAD_BYTES
    result = PARSERS[name](b" " * (limit + 1), CONTEXT)

    assert result.records == ()
    assert [r.item for r in result.rejections] == ["payload"]
    assert "more than" in result.rejections[0].reason


def test_too_many_items_are_refused_whole() -> None:
    event = {"transactionId": "t", "version": 1, "action": "NEW"}
    body = json.dumps({"enforcementData": [event] * (MAX_ITEMS + 1)}).encode()

    result = generic_push.parse(body, CONTEXT)

    assert result.records == () and "more than the 5000" in result.rejections[0].reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": None}, "version must be a positive integer"),
        ({"action": "PAID"}, "action 'PAID' is not one of"),
        ({"startTime": "2026-03-08T02:30:00"}, "does not exist in America/Toronto"),
        ({"endTime": "2026-05-01T08:00:00-04:00"}, "end is before start"),
        ({"currency": "ZZZ"}, "ISO 4217"),
        ({"amount": "2.505"}, "more decimals than USD allows"),
        ({"country": "XX"}, "ISO 3166"),
        ({"plate": "TOO-LONG-PLATE-1"}, "is not 1-10 letters and digits"),
        ({"endTime": None}, "needs an end time"),
    ],
)
def test_generic_push_rejects_an_item_with_the_reason(change: dict[str, Any], reason: str) -> None:
    good = {
        "transactionId": "t1", "version": 1, "action": "NEW", "plate": "ABC1", "zone": "Z",
        "startTime": "2026-05-01T09:00:00-04:00", "endTime": "2026-05-01T10:00:00-04:00",
        "amount": "2.50", "currency": "USD",
    }  # fmt: skip
    items = [good, {**good, "transactionId": "t2", **change}]

    result = generic_push.parse(json.dumps({"enforcementData": items}).encode(), CONTEXT)

    assert [r.source_id for r in result.records] == ["t1"]
    (rejection,) = result.rejections
    assert (rejection.item, rejection.source_id) == ("enforcementData 1", "t2")
    assert reason in rejection.reason


def test_apds_webhook_rejects_a_non_session_topic() -> None:
    body = json.dumps({"topic": "PlaceUpdated", "data": [{}]}).encode()

    result = apds_webhook.parse(body, CONTEXT)

    assert result.records == ()
    assert result.rejections[0].reason == "topic 'PlaceUpdated' is not a session topic"


def test_csv_drop_returns_failed_rows_as_an_error_csv_with_reasons() -> None:
    text = (
        "session_id;version;kind;plate;zone;start;end\n"
        "a;1;NEW;ABC1;Z;2026-05-01 09:00;2026-05-01 10:00\n"
        "b;x;NEW;ABC1;Z;2026-05-01 09:00;2026-05-01 10:00\n"
        "c;1;NEW;ABC1;Z\n"
    )
    result = csv_drop.parse(text.encode(), CONTEXT)

    assert [r.source_id for r in result.records] == ["a"]
    assert result.error_csv is not None
    rows = list(csv.reader(io.StringIO(result.error_csv)))
    assert rows[0][:3] == ["line", "reason", "session_id"]
    assert [(r[0], r[2]) for r in rows[1:]] == [("3", "b"), ("4", "c")]
    assert "version must be a positive integer" in rows[1][1]
    assert rows[2][1] == "5 fields; the header has 7"


def test_csv_drop_refuses_a_header_without_the_required_columns() -> None:
    result = csv_drop.parse(b"id,plate\n1,ABC\n", CONTEXT)

    assert result.records == ()
    assert "missing session_id, version, kind, zone, start" in result.rejections[0].reason


# ------------------------------------------------------------------ times


@settings(deadline=None, max_examples=300)
@given(st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30)))
def test_a_naive_local_time_is_refused_or_read_as_that_wall_time(naive: datetime) -> None:
    naive = naive.replace(microsecond=0)
    try:
        start = parse_time(naive.isoformat(), TZ, "start")
        end = parse_time(naive.isoformat(), TZ, "end")
    except ValueError as exc:
        assert "does not exist in America/Toronto" in str(exc)
        return
    for instant in (start, end):
        assert instant.tzinfo is UTC
        assert instant.astimezone(TZ).replace(tzinfo=None) == naive
    assert start <= end


def test_dst_gap_is_refused_and_fold_covers_both_instants() -> None:
    with pytest.raises(ValueError, match="does not exist"):
        parse_time("2026-03-08T02:30:00", TZ)

    start = parse_time("2026-11-01T01:30:00", TZ, "start")
    end = parse_time("2026-11-01T01:30:00", TZ, "end")

    assert (start, end) == (
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    )  # fmt: skip


def test_an_unknown_timezone_is_named() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not an IANA timezone"):
        timezone("Mars/Olympus")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("2.50", "USD", 250), (2.5, "EUR", 250), ("500", "JPY", 500), ("1.234", "KWD", 1234)],
)
def test_amounts_are_stored_in_the_currency_minor_unit(
    amount: Any, currency: str, minor: int
) -> None:
    assert minor_units(amount, currency) == minor


def test_a_record_cannot_hold_a_naive_time() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        SessionRecord("i", "s", 1, EventKind.NEW, "ABC", datetime(2026, 5, 1), None, "Z")


# ------------------------------------------------------------------ registry


def test_registry_maps_each_vendor_and_names_the_known_ones() -> None:
    assert adapter_for("apds", "push") is apds_webhook.ADAPTER
    assert adapter_for("parkmobile", "pull").page_param == "page"
    assert {a.transport for a in ADAPTERS.values()} == {"push", "pull", "file"}
    with pytest.raises(ValueError, match=r"no adapter for vendor 'genetec'.*apds \(pull\)"):
        adapter_for("genetec", "pull")


def test_the_registry_and_the_config_share_one_vendor_list() -> None:
    # every vendor mode a config entry can name, but lookup, reaches exactly one adapter,
    # and the registry knows no vendor the config cannot name
    configurable = {(v, m) for v, vendor in VENDORS.items() for m in vendor.modes}
    assert set(ADAPTERS) == {(v, m) for v, m in configurable if m != "lookup"}
    for (vendor, mode), adapter in ADAPTERS.items():
        assert (adapter.name, adapter.transport) == (vendor, mode)


def test_a_config_entry_reaches_its_adapter() -> None:
    def entry(vendor: str, mode: str, **extra: object) -> IntegrationSpec:
        return IntegrationSpec.model_validate(
            {"id": "feed", "vendor": vendor, "mode": mode, "timezone": "America/Chicago", **extra}
        )

    assert adapter_for_integration(entry("generic-push", "push")) is generic_push.ADAPTER
    assert adapter_for_integration(entry("csv-drop", "file")) is csv_drop.ADAPTER
    with pytest.raises(ValueError, match="no adapter for vendor 'apds' in mode 'lookup'"):
        adapter_for_integration(
            entry("apds", "lookup", endpoints={"preview": "http://127.0.0.1:9/"})
        )


# ------------------------------------------------------------------ zones

LOTS = [Lot("N1", "Lot N1"), Lot("GAR-A", "Garage A"), Lot("E", "Éast Lot"), Lot("W", "West")]


@pytest.mark.parametrize(
    ("name", "differences"),
    [
        ("lot n1", ("case",)),
        ("Lot N1 ", ("whitespace",)),
        ("Lot  N1", ("whitespace",)),
        ("Lot N-1", ("punctuation",)),
        ("East Lot", ("diacritics",)),
        ("garage-a", ("case", "whitespace", "punctuation")),
    ],
)
def test_zone_matcher_flags_near_misses_an_exact_match_drops(
    name: str, differences: tuple[str, ...]
) -> None:
    (proposal,) = match_zones([VendorZone("9001", name)], LOTS).proposals

    assert proposal.match == "near-miss"
    assert proposal.differences == differences
    assert proposal.lot is not None
    assert match_zones([VendorZone("9001", name)], LOTS).mapping() == {}


def test_zone_matcher_proposes_exact_matches_and_leaves_the_rest_unmatched() -> None:
    result = match_zones(
        [VendorZone("1", "Lot N1"), VendorZone("GAR-A", "anything"), VendorZone("2", "North")],
        LOTS,
    )

    assert [(p.match, p.lot) for p in result.proposals] == [
        ("exact", "N1"), ("exact", "GAR-A"), ("unmatched", None),
    ]  # fmt: skip
    assert result.mapping() == {"1": "N1", "GAR-A": "GAR-A"}
    assert [p.zone.id for p in result.unmatched] == ["2"]


def test_zone_matcher_refuses_to_guess_between_two_lots() -> None:
    (proposal,) = match_zones(
        [VendorZone("1", "lot a")], [Lot("A1", "Lot A"), Lot("A2", "LOT-A")]
    ).proposals

    assert (proposal.match, proposal.lot, proposal.candidates) == ("ambiguous", None, ("A1", "A2"))


@settings(deadline=None)  # no per-example deadline: the machine is shared
@given(
    st.sampled_from(LOTS), st.lists(st.sampled_from(["upper", "lower", "pad", "dash"]), max_size=3)
)
def test_a_zone_named_like_a_lot_is_never_unmatched(lot: Lot, edits: list[str]) -> None:
    name = lot.name
    for edit in edits:
        name = {"upper": name.upper(), "lower": name.lower(), "pad": f" {name} ",
                "dash": name.replace(" ", "-")}[edit]  # fmt: skip
    (proposal,) = match_zones([VendorZone("v", name)], LOTS).proposals

    assert proposal.lot == lot.code
    assert proposal.match == ("exact" if name == lot.name else "near-miss")


def test_assign_lots_holds_back_unmapped_zones_with_the_reason() -> None:
    start = datetime(2026, 5, 1, 13, tzinfo=UTC)
    make = lambda zone, kind=EventKind.NEW: SessionRecord(  # noqa: E731
        "i", zone, 1, kind, "ABC", start, start + timedelta(hours=1), zone
    )
    placed, held = assign_lots(
        [make("Z1"), make("Z2"), make("Z3"), make("Z9", EventKind.CANCEL)],
        {"Z1": "N1", "Z3": "GONE"},
        ["N1"],
    )

    assert [(r.vendor_zone, r.lot) for r in placed] == [("Z1", "N1"), ("Z9", None)]
    assert [why for _, why in held] == [
        "vendor zone 'Z2' is mapped to no lot", "vendor zone 'Z3' maps to unknown lot 'GONE'",
    ]  # fmt: skip
