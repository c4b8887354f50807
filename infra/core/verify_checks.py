"""``tenantctl verify``: the acceptance checks generated from one client's configuration.

Pure logic: given the client's configuration (lots, permit types, violation types and
currency, read from its working database by ``infra.ops.verify``) and the files of the
release its stack serves, this says which pages to load with which runtime values, what
each page must show, and which checks can be decided without a browser (templates and
emails). Nothing here is written per client: a new permit type is a new check.

No Pulumi, AWS SDK, database or YAML imports.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import urlsplit

from infra.core import placeholders as ph
from infra.core.content_checks import check_file
from infra.core.content_model import content_hash, dump_json

EVIDENCE_PREFIX = "verify/"
"""Where each run's evidence bundle goes in the stack's content bucket: ``verify/<run id>/``."""
RUN_ID_PATTERN = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\Z")
"""A run id: its start time (UTC) and 6 random hex digits; ids sort by time."""

WIDTHS: Mapping[str, tuple[int, int]] = {"desktop": (1280, 900), "phone": (390, 844)}
"""Viewport (width, height) of each screenshot; every page is loaded at each."""

BLOCKING_IMPACTS = frozenset({"serious", "critical"})
"""axe-core impacts that fail a page; minor and moderate findings are reported only."""

Status = Literal["passed", "failed", "not applicable"]
PASSED: Final = "passed"
FAILED: Final = "failed"
NOT_APPLICABLE: Final = "not applicable"

_LEFTOVER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\{\{|\{%")


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class Lot:
    code: str
    name: str


@dataclass(frozen=True)
class PermitType:
    code: str
    name: str
    price_cents: int
    lots: tuple[str, ...]
    """Codes of the lots it is valid in."""
    period: str
    """The term's name, or ``N days``."""


@dataclass(frozen=True)
class ViolationType:
    code: str
    name: str
    fine_cents: int


@dataclass(frozen=True)
class ClientConfig:
    """What the portal offers: the active lots, the permit types on sale, the violation
    types, and the currency every price is in (``locale.currency``)."""

    currency: str
    lots: tuple[Lot, ...]
    permit_types: tuple[PermitType, ...]
    violation_types: tuple[ViolationType, ...]


def release_content_hash(manifest: Mapping[str, str]) -> str:
    """A release's content hash: the SHA-256 of its ``{key: sha256}`` manifest as canonical
    JSON (what a verify run names, and what promotion would carry is compared with)."""
    return content_hash(dump_json(dict(manifest)))


def money(cents: int, currency: str) -> str:
    """How the portal shows an amount: ``240.00 USD``."""
    return f"{cents // 100:,}.{cents % 100:02d} {currency}"


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class CheckResult:
    """One check: what it is about, where, and why it failed (empty when it passed)."""

    id: str
    kind: str
    subject: str
    status: Status
    detail: str = ""
    page: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
            "page": self.page,
        }


def result(
    id: str, kind: str, subject: str, problems: Sequence[str], page: str = ""
) -> CheckResult:
    """Passed without *problems*; failed naming the first few of them."""
    if not problems:
        return CheckResult(id, kind, subject, PASSED, "", page)
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return CheckResult(id, kind, subject, FAILED, "; ".join(problems[:3]) + more, page)


# ------------------------------------------------------------------ page visits


@dataclass(frozen=True)
class Expect:
    """Text the page must show (its visible text, whitespace collapsed) for check *check*."""

    check: str
    kind: str
    subject: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class PageVisit:
    """One page load: the portal path, the runtime values it is served with, what it must show."""

    id: str
    page: str
    path: str
    values: Mapping[str, str]
    expects: tuple[Expect, ...] = field(default=())
    widths: tuple[str, ...] = tuple(WIDTHS)
    """The widths it is loaded (and screenshotted) at."""
    accessibility: bool = True
    """Whether axe-core runs on it: once per page is enough, not once per record shown."""


def _cells(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def portal_values(config: ClientConfig) -> dict[str, str]:
    """The runtime values of the buy-permit page as the application builds them from the
    configuration (fragments escaped here); everything else from the sample data."""
    names = {lot.code: lot.name for lot in config.lots}
    rows = "".join(
        _cells(
            p.name,
            ", ".join(names.get(code, code) for code in p.lots),
            p.period,
            money(p.price_cents, config.currency),
        )
        for p in config.permit_types
    )
    options = "".join(
        f'<option value="{html.escape(p.code)}">{html.escape(p.name)}</option>'
        for p in config.permit_types
    )
    return {
        **ph.SAMPLE_VALUES,
        "permit_type_table": rows,
        "permit_type_options": options,
    }


def violation_values(config: ClientConfig, violation: ViolationType) -> dict[str, str]:
    """The citation page's values for a citation of *violation* (sample citation otherwise)."""
    return {
        **ph.SAMPLE_VALUES,
        "violation_type": violation.name,
        "fine_amount": money(violation.fine_cents, config.currency),
        "amount_due": money(violation.fine_cents, config.currency),
    }


def _page_names(files: Mapping[str, bytes]) -> list[str]:
    return sorted(
        key[len(ph.PORTAL_DIR) : -len(".html")]
        for key in files
        if key.startswith(ph.PORTAL_DIR)
        and key.endswith(".html")
        and not key[len(ph.PORTAL_DIR) :].startswith("_")
    )


def page_path(page: str) -> str:
    return ph.PAGES[page][0] if page in ph.PAGES else f"/{page}"


def page_visits(config: ClientConfig, files: Mapping[str, bytes]) -> list[PageVisit]:
    """Every portal page of the release at every width, and the citation page once per
    violation type (at the first width, without axe-core: the page itself is checked once)."""
    visits: list[PageVisit] = []
    for page in _page_names(files):
        values: Mapping[str, str] = ph.SAMPLE_VALUES
        expects: tuple[Expect, ...] = ()
        if page == "buy-permit":
            values = portal_values(config)
            names = {lot.code: lot.name for lot in config.lots}
            expects = tuple(
                Expect(
                    f"permit-type:{p.code}",
                    "permit type",
                    p.code,
                    (p.name, money(p.price_cents, config.currency)),
                )
                for p in config.permit_types
            ) + tuple(
                Expect(f"lot:{lot.code}", "lot", lot.code, (names[lot.code],))
                for lot in config.lots
                if lot.code not in unsold_lots(config)
            )
        visits.append(PageVisit(f"page-{page}", page, page_path(page), values, expects))
    if "violation" in _page_names(files):
        for v in config.violation_types:
            visits.append(
                PageVisit(
                    f"violation-{v.code}",
                    "violation",
                    page_path("violation"),
                    violation_values(config, v),
                    (
                        Expect(
                            f"violation-type:{v.code}",
                            "violation type",
                            v.code,
                            (v.name, money(v.fine_cents, config.currency)),
                        ),
                    ),
                    widths=(next(iter(WIDTHS)),),
                    accessibility=False,
                )
            )
    return visits


def unsold_lots(config: ClientConfig) -> list[str]:
    """Active lots no permit type on sale is valid in (metered street parking, say): the
    portal sells nothing there, so their check does not apply."""
    used = {code for p in config.permit_types for code in p.lots}
    return [lot.code for lot in config.lots if lot.code not in used]


def missing_texts(expect: Expect, page_text: str) -> list[str]:
    """What of *expect* the page's visible text lacks."""
    seen = " ".join(page_text.split())
    return [f"{t!r} not shown" for t in expect.texts if " ".join(t.split()) not in seen]


def link_problems(links: Iterable[str], base: str, known: Mapping[str, int]) -> list[str]:
    """Internal links (same origin as *base*) whose path answers an error; *known* maps a
    path to the status the site answers it with."""
    origin = urlsplit(base).netloc
    problems: list[str] = []
    for link in links:
        parts = urlsplit(link)
        if parts.scheme not in ("http", "https") or parts.netloc != origin:
            continue
        status = known.get(parts.path or "/", 404)
        if status >= 400:
            problems.append(f"link to {parts.path} answers {status}")
    return sorted(set(problems))


def overflow_problems(document_width: int, viewport_width: int, widest: str) -> list[str]:
    """A page wider than its viewport scrolls sideways (on a phone, half a table off-screen)."""
    if document_width <= viewport_width:
        return []
    culprit = f" ({widest} reaches past the edge)" if widest else ""
    return [f"{document_width} px wide at a {viewport_width} px viewport{culprit}"]


def leftovers(rendered: str) -> list[str]:
    """Template syntax left in a page as served (an unknown placeholder, stray Jinja)."""
    return sorted(set(_LEFTOVER.findall(rendered)))


# ------------------------------------------------------------------ without a browser


def template_checks(files: Mapping[str, bytes]) -> list[CheckResult]:
    """Each portal page's file passes the content checks (parses, known placeholders)."""
    out = []
    for page in _page_names(files):
        key = f"{ph.PORTAL_DIR}{page}.html"
        problems = [str(p) for p in check_file(key, files[key])]
        out.append(result(f"template:{page}", "template", page, problems, page_path(page)))
    return out


def email_checks(files: Mapping[str, bytes], subjects: Mapping[str, str]) -> list[CheckResult]:
    """Each email renders for its sample data: subject, HTML and text bodies present, pass the
    content checks, and no placeholder left once filled."""
    out = []
    for name in ph.EMAILS:
        problems: list[str] = []
        if name not in subjects:
            problems.append(f"{ph.SUBJECTS_FILE} has no subject for {name}")
        else:
            problems += [f"subject: {t} left" for t in leftovers(ph.fill(subjects[name]))]
        for ext in ("html", "txt"):
            key = f"{ph.EMAIL_DIR}{name}.{ext}"
            if key not in files:
                problems.append(f"{key} is missing")
                continue
            problems += [str(p) for p in check_file(key, files[key])]
            try:
                text = files[key].decode("utf-8")
            except UnicodeDecodeError:
                continue  # check_file named it
            problems += [f"{key}: {t} left after filling" for t in leftovers(ph.fill(text))]
        out.append(result(f"email:{name}", "email", name, problems))
    return out


def not_applicable(id: str, kind: str, subject: str, why: str) -> CheckResult:
    return CheckResult(id, kind, subject, NOT_APPLICABLE, why)


def summary(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = {PASSED: 0, FAILED: 0, NOT_APPLICABLE: 0}
    for r in results:
        counts[r.status] += 1
    return counts


def import_reconciliation(
    kind: str, imported: int, missing: Sequence[str], file_problems: Sequence[str] = ()
) -> CheckResult:
    """Check ``imports:<kind>``: every row the recorded files of *kind* imported (by natural
    key) is still in the preview; failed naming how many are not and the first few keys,
    or a recorded file that can no longer be read."""
    problems = list(file_problems)
    if missing:
        shown = ", ".join(sorted(missing)[:3])
        problems.append(
            f"{len(missing)} of {imported} imported {kind} rows not in the database ({shown})"
        )
    return result(f"imports:{kind}", "imports reconcile", kind, problems)
