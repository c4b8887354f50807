"""Runtime placeholders: which ``${name}`` each page, email and message may use.

The one source for three readers: the content checks (``infra.core.content_checks``
refuse an unknown placeholder), ``templates/README.md`` (its tables are generated
from here by ``scripts/gen-docs``) and the preview server's sample data
(``SAMPLE_VALUES``).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``${name}``: filled by the application when it serves a page or sends an email."""

FRAGMENTS = frozenset(
    {
        "portal_notice",
        "permit_type_options",
        "vehicle_options",
        "permit_type_table",
        "permit_rows",
        "violation_rows",
        "vehicle_rows",
        "payment_rows",
    }
)
"""Placeholders the application builds as HTML from escaped values; all others are escaped."""

LAYOUT_PLACEHOLDERS = ("portal_notice",)
"""Every portal page has these (the shared layout puts them in)."""

PAGES: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    # page: (path served, when shown, placeholders besides the layout's)
    "home": ("/", "the start page", ()),
    "buy-permit": (
        "/buy-permit",
        "buying a permit",
        ("csrf_token", "permit_type_options", "vehicle_options", "permit_type_table"),
    ),
    "pay-violation": ("/pay-violation", "citation look-up", ("csrf_token",)),
    "violation": (
        "/violation",
        "a citation found by the look-up: details, pay, appeal",
        (
            "citation_number",
            "violation_type",
            "issued_at",
            "location",
            "vehicle_plate",
            "status",
            "fine_amount",
            "late_fee",
            "amount_due",
            "due_date",
            "appeal_deadline",
            "csrf_token",
        ),
    ),
    "sign-in": ("/sign-in", "sign in and create account", ("csrf_token", "return_to")),
    "forgot-password": ("/forgot-password", "asking for a reset link", ("csrf_token",)),
    "reset-password": (
        "/reset-password",
        "the target of `${reset_link}`",
        ("csrf_token", "reset_token"),
    ),
    "account": (
        "/account",
        "my permits, citations, vehicles, receipts",
        (
            "account_name",
            "account_email",
            "csrf_token",
            "permit_rows",
            "violation_rows",
            "vehicle_rows",
            "payment_rows",
        ),
    ),
    "payment-complete": (
        "/payments/return",
        "after the hosted payment page",
        ("receipt_number", "amount", "description", "payment_date"),
    ),
    "payment-cancelled": ("/payments/cancel", "payment abandoned", ()),
    "help": ("/help", "help and contact", ()),
    "coming-soon": ("/coming-soon", "every page of production until go-live", ()),
    "not-found": ("/not-found", "404", ()),
}

EMAILS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    # email: (sent when, placeholders in its subject, HTML and text bodies)
    "permit-confirmation": (
        "a permit is paid for",
        (
            "recipient_name",
            "permit_number",
            "permit_type",
            "lots",
            "vehicle_plate",
            "valid_from",
            "valid_until",
            "amount",
            "receipt_number",
        ),
    ),
    "payment-receipt": (
        "any payment succeeds",
        (
            "recipient_name",
            "receipt_number",
            "payment_date",
            "description",
            "amount",
            "payment_method",
            "transaction_id",
        ),
    ),
    "violation-notice": (
        "a citation is issued to a vehicle on an account",
        (
            "recipient_name",
            "citation_number",
            "violation_type",
            "issued_at",
            "location",
            "vehicle_plate",
            "fine_amount",
            "due_date",
            "appeal_deadline",
        ),
    ),
    "password-reset": (
        "the public asks to reset a password",
        ("recipient_name", "reset_link", "expires_in"),
    ),
    "welcome": ("an account is created", ("recipient_name", "account_email")),
    "permit-renewal-reminder": (
        "renewal opens for current holders",
        (
            "recipient_name",
            "permit_number",
            "permit_type",
            "valid_until",
            "term_name",
            "renewal_closes_on",
        ),
    ),
}

MESSAGES: Mapping[str, tuple[str, ...]] = {
    "account-created": (),
    "password-changed": (),
    "portal-not-open": (),
    "session-expired": (),
    "sign-in-failed": (),
    "payment-declined": (),
    "payment-unavailable": (),
    "violation-not-found": (),
    "account-locked": ("lock_minutes",),
    "appeal-submitted": ("citation_number",),
    "appeal-window-closed": ("citation_number", "appeal_deadline"),
    "maintenance": ("starts_at", "ends_at"),
    "not-eligible": ("permit_type",),
    "password-reset-sent": ("expires_in",),
    "payment-cancelled": ("hold_minutes",),
    "payment-succeeded": ("amount", "receipt_number"),
    "permit-purchased": ("permit_number", "valid_from"),
    "permit-renewal-open": ("term_name", "renewal_closes_on"),
    "permit-sold-out": ("permit_type",),
    "vehicle-limit-reached": ("permit_type", "max_vehicles"),
    "violation-already-paid": ("citation_number", "paid_on"),
}

PORTAL_DIR = "portal/"
EMAIL_DIR = "email/"
SUBJECTS_FILE = "email/subjects.json"
MESSAGES_FILE = "messages/portal.json"
STYLESHEET = "portal/styles.css"

REQUIRED_FILES: tuple[str, ...] = (
    *(f"{PORTAL_DIR}{page}.html" for page in PAGES),
    STYLESHEET,
    *(f"{EMAIL_DIR}{email}.{ext}" for email in EMAILS for ext in ("html", "txt")),
    SUBJECTS_FILE,
    MESSAGES_FILE,
)
"""Every file the portal needs in a release; a push without one of them is refused."""


def allowed_in_file(key: str) -> frozenset[str] | None:
    """The placeholders content file *key* may use; ``None`` for files checked per entry
    (subjects, messages) or files that take none (an extra page the client added takes
    the layout's only)."""
    if key in (SUBJECTS_FILE, MESSAGES_FILE):
        return None
    if key.startswith(PORTAL_DIR) and key.endswith(".html"):
        name = key[len(PORTAL_DIR) : -len(".html")]
        extra = PAGES[name][2] if name in PAGES else ()
        return frozenset((*LAYOUT_PLACEHOLDERS, *extra))
    if key.startswith(EMAIL_DIR):
        stem = key[len(EMAIL_DIR) :].rsplit(".", 1)[0]
        return frozenset(EMAILS[stem][1]) if stem in EMAILS else frozenset()
    return frozenset()


SAMPLE_VALUES: Mapping[str, str] = {
    "account_email": "alex.rivera@example.edu",
    "account_name": "Alex Rivera",
    "amount": "$240.00",
    "amount_due": "$65.00",
    "appeal_deadline": "December 9, 2026",
    "citation_number": "C-2026-000417",
    "csrf_token": "sample-csrf-token",
    "description": "Commuter Student — Fall 2026",
    "due_date": "December 25, 2026",
    "ends_at": "Sunday 6:00 AM",
    "expires_in": "60 minutes",
    "fine_amount": "$50.00",
    "hold_minutes": "15",
    "issued_at": "November 25, 2026 9:14 AM",
    "late_fee": "$15.00",
    "location": "Lot A, row 4",
    "lock_minutes": "15",
    "lots": "Lot A, Lot C",
    "max_vehicles": "2",
    "paid_on": "November 20, 2026",
    "payment_date": "November 25, 2026",
    "payment_method": "Visa ending 4242",
    "permit_number": "P-2026-001234",
    "permit_type": "Commuter Student",
    "receipt_number": "R-2026-004321",
    "renewal_closes_on": "August 15, 2027",
    "reset_link": "/reset-password",
    "reset_token": "sample-reset-token",
    "return_to": "/account",
    "starts_at": "Saturday 10:00 PM",
    "status": "Open",
    "term_name": "Academic Year 2026-27",
    "transaction_id": "txn_sample_0001",
    "valid_from": "August 20, 2026",
    "valid_until": "May 15, 2027",
    "vehicle_plate": "ABC 1234 (CA)",
    "violation_type": "No valid permit",
    "recipient_name": "Alex Rivera",
    "portal_notice": "",
    "permit_type_options": '<option value="COMMUTER">Commuter Student</option>',
    "vehicle_options": '<option value="1">ABC 1234 (CA)</option>',
    "permit_type_table": "<tr><td>Commuter Student</td><td>Lot A</td>"
    "<td>Academic year</td><td>$240.00</td></tr>",
    "permit_rows": "<tr><td>P-2026-001234</td><td>Commuter Student</td>"
    "<td>ABC 1234</td><td>May 15, 2027</td><td>Active</td></tr>",
    "violation_rows": "",
    "vehicle_rows": "<tr><td>ABC 1234</td><td>CA</td><td>Toyota Corolla</td></tr>",
    "payment_rows": "<tr><td>R-2026-004321</td><td>November 25, 2026</td>"
    "<td>Permit P-2026-001234</td><td>$240.00</td></tr>",
}
"""What the preview and ``email test`` put in for each placeholder."""


def every_placeholder() -> frozenset[str]:
    names = set(LAYOUT_PLACEHOLDERS)
    for _, _, extra in PAGES.values():
        names.update(extra)
    for _, used in EMAILS.values():
        names.update(used)
    for used in MESSAGES.values():
        names.update(used)
    return frozenset(names)


def fill(text: str, values: Mapping[str, str] = SAMPLE_VALUES) -> str:
    """*text* with every ``${name}`` replaced from *values* (unknown ones left as they are)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _names(names: tuple[str, ...]) -> str:
    if not names:
        return "—"
    return ", ".join(f"`${{{n}}}`" + (" (*fragment*)" if n in FRAGMENTS else "") for n in names)


def pages_table() -> str:
    lines = ["| page | served at | shown | placeholders |", "|---|---|---|---|"]
    lines.append(f"| every page (layout) | | | {_names(LAYOUT_PLACEHOLDERS)} |")
    for page, (path, when, names) in PAGES.items():
        lines.append(f"| `{page}.html` | `{path}` | {when} | {_names(names)} |")
    return "\n".join(lines)


def emails_table() -> str:
    lines = ["| email | sent when | placeholders (subject and both bodies) |", "|---|---|---|"]
    for email, (when, names) in EMAILS.items():
        lines.append(f"| `{email}` | {when} | {_names(names)} |")
    return "\n".join(lines)


def messages_table() -> str:
    lines = ["| message | placeholders |", "|---|---|"]
    for code, names in MESSAGES.items():
        lines.append(f"| `{code}` | {_names(names)} |")
    return "\n".join(lines)
