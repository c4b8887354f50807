"""What `tenantctl import` accepts: one CSV header per kind, and how each field is checked.

Every kind has a documented header (the column names, in any order), an
example row (``tenantctl import --template KIND``), a natural key and, per
column, a check that turns the text into what the staging table receives or
raises ``ValueError`` with the reason. References between kinds (a permit's
account, a zone's lot) are checked by the loader against the database after
the whole file is staged; they are listed here so the docs say so.

Configuration kinds load into schema ``config`` (promoted at go-live); data
from the old system into ``activity`` (replayed into production at go-live).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from infra.core import placeholders
from infra.core.text_rules import whitespace_problem

Check = Callable[[str], str]

FAST: dict[Check, str] = {}
"""Checks with a regex that accepts only values the check accepts (and no delimiter,
quote, line break or NUL): whole rows of these are checked by one regex. Matched text is
staged as is, so the loader stages amounts (``money``) as text and converts them in SQL."""

_CLEAN = '[^,;\\t"\\r\\n\\x00]'  # no delimiter of any dialect, no quote, no line break, no NUL
_DAY = "(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"  # days 29-31: full check


def _fast(check: Check, regex: str) -> Check:
    FAST[check] = regex
    return check


CONFIG = "config"
ACTIVITY = "activity"
GROUPS = ("student", "resident_student", "faculty", "staff", "visitor", "contractor")


def _pattern(regex: str, reason: str, fast: bool = True) -> Check:
    """*fast*: *regex* is made of explicit classes without delimiters, quotes or line breaks."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(reason)
        return value

    return _fast(check, regex) if fast else check


def _text(max_length: int) -> Check:
    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        problem = whitespace_problem(value)  # the rule every typed string follows
        if problem:
            raise ValueError(problem)
        return value

    # Not starting or ending with whitespace, like the check (``\\s`` is str.isspace's set).
    return _fast(check, f"(?!\\s){_CLEAN}{{1,{max_length}}}(?<!\\s)")


def _integer(minimum: int, maximum: int = 2_000_000_000) -> Check:
    def check(value: str) -> str:
        try:
            number = int(value)
        except ValueError:
            raise ValueError("not a whole number") from None
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    if maximum == 2_000_000_000 and minimum in (0, 1):
        return _fast(check, "[0-9]{1,9}" if minimum == 0 else "[1-9][0-9]{0,8}")
    return check


_MONEY = re.compile(r"(\d{1,8})(?:\.(\d{2}))?")


def money(value: str) -> str:
    """``240.00`` or ``240`` -> cents (``24000``)."""
    match = _MONEY.fullmatch(value)
    if match is None:
        raise ValueError("must be an amount such as 240.00 (no currency sign or separators)")
    return str(int(match.group(1)) * 100 + int(match.group(2) or 0))


_fast(money, "[0-9]{1,8}(?:\\.[0-9]{2})?")


def boolean(value: str) -> str:
    lowered = value.lower()
    if lowered in ("true", "yes", "1"):
        return "true"
    if lowered in ("false", "no", "0"):
        return "false"
    raise ValueError("must be true or false")


def iso_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None
    return value


_fast(iso_date, _DAY)


def timestamp(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date and time such as 2026-08-20T08:00:00-07:00") from None
    if moment.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2026-08-20T08:00:00-07:00 or ...Z")
    return value


_fast(
    timestamp,
    f"{_DAY}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
)


def _choice(*options: str) -> Check:
    allowed = frozenset(options)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return _fast(check, "|".join(re.escape(o) for o in options))


def _list_of(item: Check, separator: str = ";") -> Check:
    def check(value: str) -> str:
        items = [part.strip() for part in value.split(separator)]
        if not all(items):
            raise ValueError(f"empty item in a {separator!r}-separated list")
        return separator.join(item(part) for part in items)

    return check


CODE = _pattern(r"[A-Z0-9][A-Z0-9-]{0,31}", "must be 1-32 capitals, digits or '-'")
EMAIL = _fast(
    _pattern(r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an email address", fast=False),
    '[^@\\s,;"\\x00]+@[^@\\s,;"\\x00]+\\.[^@\\s,;"\\x00]+',
)
PLATE = _pattern(r"[A-Z0-9 -]{1,10}", "must be 1-10 capitals, digits, spaces or '-'")
PLATE_STATE = _pattern(r"[A-Z]{2,3}", "must be a 2-3 letter state or province code")
CURRENCY = _pattern(r"[A-Z]{3}", "must be an ISO 4217 code such as USD")
SETTING_KEY = _pattern(
    r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", "must be dotted lowercase words, e.g. locale.timezone"
)
MESSAGE_CODE = _pattern(r"[a-z][a-z0-9-]*", "must be lowercase words joined by '-'")


@dataclass(frozen=True)
class Column:
    name: str
    check: Check
    example: str
    required: bool = True
    description: str = ""


@dataclass(frozen=True)
class Kind:
    """One kind of import: its header, natural key and what it loads into."""

    name: str
    schema: str
    table: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[str, ...] = ()
    """People-readable: what the loader checks exists (documented in the README)."""

    @property
    def header(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def is_data(self) -> bool:
        return self.schema == ACTIVITY

    def template(self) -> str:
        """The documented header and one example row, as CSV text."""
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerow(c.example for c in self.columns)
        return out.getvalue()


def _c(
    name: str, check: Check, example: str, required: bool = True, description: str = ""
) -> Column:
    return Column(name, check, example, required, description)


KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "lots",
            CONFIG,
            "lots",
            "parking lots and garages",
            (
                _c("code", CODE, "N1"),
                _c("name", _text(120), "North Garage"),
                _c("kind", _choice("surface", "garage", "street", "motorcycle"), "garage"),
                _c("capacity", _integer(0), "1150"),
                _c("accessible_spaces", _integer(0), "24", False),
                _c("ev_spaces", _integer(0), "16", False),
                _c("address", _text(200), "400 North Campus Drive", False),
                _c("description", _text(2000), "Five-level garage", False),
                _c("hours", _text(200), "Open 24 hours", False),
                _c("active", boolean, "true", False),
                _c("sort_order", _integer(-1_000_000), "10", False),
            ),
            ("code",),
        ),
        Kind(
            "zones",
            CONFIG,
            "zones",
            "zones the mobile-parking app and the meters key on; each names its lot exactly",
            (
                _c(
                    "zone",
                    _pattern(
                        r"[A-Za-z0-9][A-Za-z0-9-]{0,31}", "must be 1-32 letters, digits or '-'"
                    ),
                    "1001",
                ),
                _c("lot_code", _text(32), "N1", description="a lot code exactly as in config.lots"),
                _c("name", _text(120), "North Garage level 1"),
                _c("provider", _choice("mobile", "meter", "both"), "both"),
            ),
            ("zone",),
            ("lot_code: a lot, matched exactly (case and spaces)",),
        ),
        Kind(
            "permit-types",
            CONFIG,
            "permit_types",
            "permit options on sale, with the lots each is valid in",
            (
                _c("code", CODE, "STU-COMM"),
                _c("name", _text(120), "Student Commuter"),
                _c("price", money, "240.00"),
                _c("term_code", CODE, "AY", False, "a term code; or give duration_days"),
                _c("duration_days", _integer(1, 730), "", False),
                _c("eligible_groups", _list_of(_choice(*GROUPS)), "student"),
                _c("lots", _list_of(CODE), "N1;E1", description="lot codes separated by ';'"),
                _c("max_per_account", _integer(1), "1", False),
                _c("max_vehicles", _integer(1), "2", False),
                _c("quantity_limit", _integer(0), "", False),
                _c("requires_approval", boolean, "false", False),
                _c("on_sale", boolean, "true", False),
                _c("description", _text(2000), "Commuter lots, August to August", False),
                _c("sort_order", _integer(-1_000_000), "10", False),
            ),
            ("code",),
            ("term_code: a term", "lots: every lot, matched exactly"),
        ),
        Kind(
            "violation-types",
            CONFIG,
            "violation_types",
            "violations officers can issue and their fines",
            (
                _c("code", CODE, "NO-PERMIT"),
                _c("name", _text(120), "No valid permit"),
                _c("fine", money, "50.00"),
                _c("appeal_window_days", _integer(0, 365), "14", False),
                _c("late_fee", money, "15.00", False),
                _c("late_after_days", _integer(1, 365), "30", False),
                _c("tow_eligible", boolean, "false", False),
                _c("description", _text(2000), "", False),
                _c("sort_order", _integer(-1_000_000), "10", False),
            ),
            ("code",),
        ),
        Kind(
            "settings",
            CONFIG,
            "settings",
            "organization-wide settings",
            (
                _c("key", SETTING_KEY, "locale.timezone"),
                _c("value", _text(2000), "America/Los_Angeles", False),
                _c("description", _text(500), "Time zone of dates shown", False),
            ),
            ("key",),
        ),
        Kind(
            "messages",
            CONFIG,
            "system_messages",
            "the portal's system messages",
            (
                _c("code", MESSAGE_CODE, "maintenance"),
                _c("title", _text(200), "Scheduled maintenance"),
                _c("body", _text(4000), "The portal is closed from ${starts_at} to ${ends_at}."),
                _c("severity", _choice("info", "warning", "error"), "warning"),
            ),
            ("code",),
        ),
        Kind(
            "accounts",
            ACTIVITY,
            "accounts",
            "accounts of the public from the old system",
            (
                _c("email", EMAIL, "alex.rivera@example.edu"),
                _c("full_name", _text(200), "Alex Rivera"),
                _c("affiliation", _choice(*GROUPS), "student"),
                _c("campus_id", _text(40), "S1234567", False),
                _c("phone", _text(40), "+1 555 010 2000", False),
            ),
            ("email",),
        ),
        Kind(
            "vehicles",
            ACTIVITY,
            "vehicles",
            "vehicles and plates, each on an account",
            (
                _c("account_email", EMAIL, "alex.rivera@example.edu"),
                _c("plate", PLATE, "ABC1234"),
                _c("plate_state", PLATE_STATE, "CA"),
                _c("make", _text(60), "Toyota", False),
                _c("model", _text(60), "Corolla", False),
                _c("color", _text(30), "Blue", False),
            ),
            ("account_email", "plate_state", "plate"),
            ("account_email: an account",),
        ),
        Kind(
            "permits",
            ACTIVITY,
            "permits",
            "permits sold by the old system",
            (
                _c(
                    "permit_number",
                    _pattern(r"[A-Za-z0-9-]{1,40}", "must be 1-40 letters, digits or '-'"),
                    "P-2026-000001",
                ),
                _c("account_email", EMAIL, "alex.rivera@example.edu"),
                _c("permit_type", CODE, "STU-COMM"),
                _c("plate", PLATE, "ABC1234"),
                _c("plate_state", PLATE_STATE, "CA"),
                _c("status", _choice("active", "expired", "cancelled", "refunded"), "active"),
                _c("price", money, "240.00"),
                _c("currency", CURRENCY, "USD"),
                _c("valid_from", timestamp, "2026-08-15T00:00:00-07:00"),
                _c("valid_until", timestamp, "2027-08-14T23:59:59-07:00"),
            ),
            ("permit_number",),
            (
                "account_email: an account",
                "permit_type: a permit type",
                "plate, plate_state: a vehicle of that account",
            ),
        ),
        Kind(
            "violations",
            ACTIVITY,
            "violations",
            "violation history from the old system",
            (
                _c(
                    "citation_number",
                    _pattern(r"[A-Za-z0-9-]{1,40}", "must be 1-40 letters, digits or '-'"),
                    "C-2025-000417",
                ),
                _c("violation_type", CODE, "NO-PERMIT"),
                _c("lot_code", _text(32), "N1", False),
                _c("plate", PLATE, "ABC1234"),
                _c("plate_state", PLATE_STATE, "CA"),
                _c(
                    "status",
                    _choice("open", "paid", "appealed", "dismissed", "void", "sent_to_collections"),
                    "paid",
                ),
                _c("fine", money, "50.00"),
                _c("late_fee", money, "0.00", False),
                _c("currency", CURRENCY, "USD"),
                _c("issued_at", timestamp, "2025-10-02T09:14:00-07:00"),
                _c("issued_by", _text(120), "Officer 12"),
                _c("due_on", iso_date, "2025-11-01"),
                _c("appeal_deadline", iso_date, "2025-10-16"),
                _c("location_note", _text(500), "Row 4", False),
            ),
            ("citation_number",),
            ("violation_type: a violation type", "lot_code: a lot, matched exactly"),
        ),
    )
}

DATA_ORDER = ("accounts", "vehicles", "permits", "violations")
"""The order old-system data is replayed into production (references point backwards)."""


def row_problems(kind: Kind, row: Mapping[str, str]) -> list[tuple[str, str]]:
    """Checks of one row that need Python: ``[(column, reason)]``.

    Placeholders in a message must be the ones the application fills for its
    code. Other checks across columns (a permit's dates, a permit type's term
    or duration) run on the staged rows in SQL, where they cost nothing per row.
    """
    problems: list[tuple[str, str]] = []
    if kind.name == "messages":
        allowed = frozenset(placeholders.MESSAGES.get(row.get("code", ""), ()))
        for column in ("title", "body"):
            for name in placeholders.PLACEHOLDER.findall(row.get(column, "")):
                if name not in allowed:
                    problems.append((column, f"unknown placeholder ${{{name}}} for this message"))
    return problems


def row_pattern(kind: Kind, header: list[str], delimiter: str) -> re.Pattern[str] | None:
    """One regex for a whole unquoted line of *kind* in *header* order, or None.

    A line it matches is valid as is (every field passes its column's check and
    keeps its text); a line it does not match gets the per-column checks, which
    say what is wrong. None when a column's check has no such regex.
    """
    columns = {c.name: c for c in kind.columns}
    fields = []
    for name in header:
        column = columns[name]
        regex = FAST.get(column.check)
        if regex is None:
            return None
        fields.append(f"(?:{regex})" if column.required else f"(?:{regex})?")
    return re.compile(re.escape(delimiter).join(fields))


def kinds_table() -> str:
    """The README table: every kind, its header and what it loads into."""
    lines = [
        "| kind | loads into | header (required columns in bold) | checked to exist |",
        "|---|---|---|---|",
    ]
    for kind in KINDS.values():
        header = ", ".join(f"**{c.name}**" if c.required else c.name for c in kind.columns)
        refs = "; ".join(kind.references) or "—"
        lines.append(f"| `{kind.name}` | `{kind.schema}.{kind.table}` | {header} | {refs} |")
    return "\n".join(lines)
