"""A client's integrations (mobile-parking apps, meters, cameras) as configuration.

An integration is one vendor feeding one client's violations database: how it
reaches us (``mode``), how often we poll it, which timezone its naive times are
in, how long a session stays valid after its end (``graceMinutes``), what to do
with a session in a zone we do not know, the vendor's endpoint for each stage and
the map of the vendor's zones onto the client's lots.

It is part of the tenant spec (``tenants:integrations`` in the stack file), so
it is validated with the rest of the spec, diffed by ``tenantctl plan`` and the
stack file's history, shapes the Pulumi resources of each integration (queue,
schedule, alarms; ``infra.program.integrations``), survives ``reset-preview``
(which never edits a stack file) and is carried to production by ``promote``.
Credentials are never here: ``tenantctl integration set-credentials`` puts them
in one Secrets Manager secret per integration per stage.

Sandbox rule (structural): the preview stack only ever uses ``endpoints.preview``,
which must be a *sandbox endpoint*: an ``https://`` URL whose host has a DNS
label that is ``sandbox`` or has ``sandbox`` as a hyphen-separated part
(``sandbox.api.apds.example``, ``api-sandbox.parkmobile.example``), or a loopback
host (``127.0.0.1``, ``localhost``; ``http://`` allowed there, for the local
target's mock vendors). ``endpoints.production`` must not be a sandbox or
loopback endpoint, and it is used only by a live production.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from infra.core import limits, naming


@dataclass(frozen=True)
class Vendor:
    """What tenantctl knows of one vendor: its transports and credential keys."""

    title: str
    modes: tuple[str, ...]
    credential_fields: tuple[str, ...]
    """Keys of the credentials JSON ``integration set-credentials`` stores; the first is
    required."""


VENDORS: dict[str, Vendor] = {
    "apds": Vendor(
        "Alliance for Parking Data Standards API", ("push", "pull", "lookup"), ("apiKey",)
    ),
    "generic-push": Vendor(
        "Generic push (OPS-COM / Parknexus shape)", ("push",), ("hmacSecret", "token")
    ),
    "parkmobile": Vendor(
        "ParkMobile-style session API", ("pull", "lookup"), ("clientId", "clientSecret")
    ),
    "csv-drop": Vendor("CSV file drop", ("file",), ("sftpPassword",)),
}
"""The vendors an integration can name: the one list (docs and CLI choices come from it)."""

Mode = Literal["push", "pull", "file", "lookup"]
MODES: tuple[str, ...] = get_args(Mode)
UnmatchedZones = Literal["quarantine", "drop"]

ID_MAX = 24
"""An id names the integration's queues, schedule, alarms and secret; 24 keeps every one
of them within its AWS limit for the longest slug and stage (``integration_names``)."""
_ID = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]\Z")
SCHEDULE_MINUTES_MAX = 1440
SILENCE_MINUTES_MAX = 1440
"""A CloudWatch alarm's period times its evaluation periods may not exceed one day."""
GRACE_MINUTES_MAX = 240
ZONES_MAX = 2000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SANDBOX_WORD = "sandbox"
IGNORE = "ignore"


def id_problem(value: str) -> str | None:
    """Why *value* cannot be an integration id, or ``None``."""
    if len(value) > ID_MAX or len(value) < 2 or "--" in value or not _ID.fullmatch(value):
        return (
            f"must be 2-{ID_MAX} lowercase letters, digits and single hyphens, "
            "starting with a letter, e.g. parkmobile"
        )
    return None


def _id_rule(value: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _vendor_rule(value: str) -> str:
    if value not in VENDORS:
        raise ValueError("must be one of: " + ", ".join(VENDORS))
    return value


def _timezone_rule(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "must be an IANA timezone name such as America/New_York (vendors send naive "
            "local times; this says which)"
        ) from None
    return value


def _host(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "")


def is_loopback(url: str) -> bool:
    return _host(url)[1] in LOOPBACK_HOSTS


def is_sandbox(url: str) -> bool:
    """Whether *url* is a vendor sandbox endpoint (module docstring: the sandbox rule)."""
    scheme, host = _host(url)
    if host in LOOPBACK_HOSTS:
        return scheme in ("http", "https")
    if scheme != "https":
        return False
    return any(SANDBOX_WORD in label.split("-") for label in host.split("."))


def _url_rule(value: str) -> str:
    scheme, host = _host(value)
    if scheme not in ("https", "http") or not host or any(c.isspace() for c in value):
        raise ValueError("must be an https:// URL")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        raise ValueError("must be an https:// URL (http:// only on 127.0.0.1 or localhost)")
    if len(value) > 2048:
        raise ValueError("must be at most 2048 characters")
    return value


Url = Annotated[str, AfterValidator(_url_rule)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
    )


class Endpoints(_Model):
    """The vendor's API base per stage."""

    preview: Url | None = Field(
        None, description="The vendor's sandbox API (the only one a preview ever talks to)."
    )
    production: Url | None = Field(
        None, description="The vendor's production API; used once production is live."
    )

    @model_validator(mode="after")
    def _sandbox_rule(self) -> Endpoints:
        if self.preview is not None and not is_sandbox(self.preview):
            raise ValueError(
                f"endpoints.preview {self.preview} is not a vendor sandbox: its host needs a "
                f"'{SANDBOX_WORD}' label (e.g. https://sandbox.api.vendor.example) or must be "
                "127.0.0.1 / localhost"
            )
        if self.production is not None and (is_sandbox(self.production)):
            raise ValueError(
                f"endpoints.production {self.production} is a sandbox or loopback endpoint; "
                "give the vendor's production API"
            )
        return self


DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Enforcement days, Monday first (``date.weekday()`` order)."""
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")
DST_CHECK_YEARS = range(2026, 2036)
"""The years whose DST changes an enforcement window's start and end are checked against."""


def _day_rule(value: str) -> str:
    if value not in DAYS:
        raise ValueError(f"unknown day {value!r}; days are {', '.join(DAYS)}")
    return value


def _time_rule(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError(f"{value!r} is not a 24-hour local time HH:MM such as 07:00")
    return value


class EnforcementHours(_Model):
    """When a lot is enforced, in the integration's timezone: the silence alarm acts only
    then. One window a day, ``start`` before ``end`` on the same day: an overnight window
    (19:00-07:00) is refused, as the silence alarm of a lot enforced overnight stays on
    all the time (leave ``enforcementHours`` out)."""

    days: list[Annotated[str, AfterValidator(_day_rule)]] = Field(
        default_factory=lambda: list(DAYS),
        min_length=1,
        max_length=7,
        description="Enforced days: mon, tue, wed, thu, fri, sat, sun (default every day).",
    )
    start: Annotated[str, AfterValidator(_time_rule)] = Field(
        description="Local time enforcement starts, HH:MM (24-hour), e.g. 07:00."
    )
    end: Annotated[str, AfterValidator(_time_rule)] = Field(
        description="Local time enforcement ends, HH:MM, after start on the same day."
    )

    @model_validator(mode="after")
    def _window(self) -> EnforcementHours:
        if len(set(self.days)) != len(self.days):
            raise ValueError("enforcementHours.days lists a day twice")
        if self.end <= self.start:
            raise ValueError(
                f"enforcementHours end {self.end} is not after start {self.start}; overnight "
                "windows are not supported (leave enforcementHours out: always enforced)"
            )
        return self

    def times(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


def _missing_local_time(timezone: str, wall: time) -> date | None:
    """The first day in ``DST_CHECK_YEARS`` on which *wall* does not exist in *timezone*
    (skipped when clocks go forward), or ``None``. EventBridge Scheduler skips a cron
    invocation that falls on a non-existent local time (and runs once in a repeated hour),
    so an alarm switch at such a time would be lost that day."""
    zone = zoneinfo.ZoneInfo(timezone)
    day = date(DST_CHECK_YEARS.start, 1, 1)
    last = date(DST_CHECK_YEARS.stop, 1, 1)
    while day < last:
        noon = datetime.combine(day, time(12), zone).utcoffset()
        if noon != datetime.combine(day - timedelta(days=1), time(12), zone).utcoffset():
            for candidate in (day, day - timedelta(days=1)):
                local = datetime.combine(candidate, wall, zone)
                if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != (
                    local.replace(tzinfo=None)
                ):
                    return candidate
        day += timedelta(days=1)
    return None


@cache
def _dst_problem(timezone: str, start: str, end: str) -> str | None:
    rearm = rearm_time(time.fromisoformat(start))
    checked = (
        ("start", start),
        ("start + 1 minute (the re-arm)", rearm.isoformat("minutes")),
        ("end", end),
    )
    for label, value in checked:
        missing = _missing_local_time(timezone, time.fromisoformat(value))
        if missing is not None:
            return (
                f"enforcementHours {label} {value} does not exist in {timezone} on "
                f"{missing.isoformat()} (clocks go forward) and the switch would be skipped "
                "that day; choose a time outside the DST change"
            )
    return None


def window_utc(
    hours: EnforcementHours, timezone: str, day: date
) -> tuple[datetime, datetime] | None:
    """The UTC instants the enforcement window of local *day* in *timezone* opens and
    closes (what the switching schedules do that day), or ``None`` on a day not enforced."""
    if DAYS[day.weekday()] not in hours.days:
        return None
    zone = zoneinfo.ZoneInfo(timezone)
    start, end = hours.times()
    return (
        datetime.combine(day, start, zone).astimezone(UTC),
        datetime.combine(day, end, zone).astimezone(UTC),
    )


REARM_AFTER = timedelta(minutes=1)
"""How long after enforcement starts the silence alarm is set back to OK. An alarm that
went into ALARM while its actions were off (a feed silent overnight) notifies only on its
next transition into ALARM: set to OK, it is evaluated again at its next period and, if
the feed is still silent, goes to ALARM with its actions on, and someone is paged."""


def rearm_time(start: time) -> time:
    """The local time of the re-arm: ``REARM_AFTER`` after *start* (never past the end,
    which is after the start, so the same day)."""
    return (datetime.combine(date(2026, 1, 1), start) + REARM_AFTER).time()


def rearm_cron(hours: EnforcementHours) -> str:
    """The cron expression (in the integration's timezone) of the re-arm schedule."""
    days = ",".join(d.upper() for d in DAYS if d in hours.days)
    at = rearm_time(hours.times()[0])
    return f"cron({at.minute} {at.hour} ? * {days} *)"


def switch_crons(hours: EnforcementHours) -> tuple[str, str]:
    """EventBridge Scheduler cron expressions (evaluated in the integration's timezone)
    that open and close the enforcement window."""
    days = ",".join(d.upper() for d in DAYS if d in hours.days)
    start, end = hours.times()
    return (
        f"cron({start.minute} {start.hour} ? * {days} *)",
        f"cron({end.minute} {end.hour} ? * {days} *)",
    )


class ZoneMapping(_Model):
    """One vendor zone and the lot it maps onto (or ``ignore: true``, or neither: unmapped)."""

    vendor_zone_id: str = Field(min_length=1, max_length=128, description="The vendor's zone id.")
    vendor_zone_name: str = Field("", max_length=256, description="The vendor's zone name.")
    lot: str | None = Field(
        None, min_length=1, max_length=64, description="The client's lot code it maps onto."
    )
    ignore: bool = Field(False, description="true: sessions in this zone are deliberately dropped.")

    @model_validator(mode="after")
    def _one_target(self) -> ZoneMapping:
        if self.lot is not None and self.ignore:
            raise ValueError(f"zone {self.vendor_zone_id!r} has both a lot and ignore: true")
        return self

    @property
    def mapped(self) -> bool:
        return self.lot is not None or self.ignore


class IntegrationSpec(_Model):
    """One vendor feed of one client."""

    id: Annotated[str, AfterValidator(_id_rule)] = Field(
        description="Names the integration's resources, e.g. parkmobile."
    )
    vendor: Annotated[str, AfterValidator(_vendor_rule)] = Field(
        description="One of: " + ", ".join(VENDORS) + "."
    )
    mode: Mode = Field(description="push, pull, file or lookup (the vendor's transport).")
    schedule_minutes: int | None = Field(
        None,
        ge=1,
        le=SCHEDULE_MINUTES_MAX,
        description="pull mode only (required there): minutes between polls.",
    )
    timezone: Annotated[str, AfterValidator(_timezone_rule)] = Field(
        description="IANA timezone of the vendor's naive local times, e.g. America/Chicago."
    )
    grace_minutes: int = Field(
        10, ge=0, le=GRACE_MINUTES_MAX, description="Minutes a session stays valid after its end."
    )
    unmatched_zones: UnmatchedZones = Field(
        "quarantine", description="A session in an unmapped zone: quarantine or drop."
    )
    silence_alarm_minutes: int = Field(
        60,
        ge=5,
        le=SILENCE_MINUTES_MAX,
        description="Alarm when no message has arrived for this many minutes.",
    )
    enforcement_hours: EnforcementHours | None = Field(
        None,
        description="When the silence alarm may page, in `timezone` (default: always).",
    )
    endpoints: Endpoints = Field(
        default_factory=Endpoints, description="The vendor's API per stage (pull and lookup)."
    )
    zones: list[ZoneMapping] = Field(
        default_factory=list,
        max_length=ZONES_MAX,
        description="Vendor zone -> lot map (`tenantctl integration map-zones --write`).",
    )

    @model_validator(mode="after")
    def _rules(self) -> IntegrationSpec:
        vendor = VENDORS[self.vendor]
        if self.mode not in vendor.modes:
            raise ValueError(
                f"integration {self.id}: vendor {self.vendor} supports mode "
                f"{' or '.join(vendor.modes)}, not {self.mode}"
            )
        if self.mode == "pull" and self.schedule_minutes is None:
            raise ValueError(f"integration {self.id}: pull mode needs scheduleMinutes")
        if self.mode != "pull" and self.schedule_minutes is not None:
            raise ValueError(f"integration {self.id}: scheduleMinutes is for pull mode only")
        if self.mode in ("pull", "lookup") and self.endpoints.preview is None:
            raise ValueError(
                f"integration {self.id}: {self.mode} mode needs endpoints.preview (the "
                "vendor's sandbox)"
            )
        if self.enforcement_hours is not None:
            hours = self.enforcement_hours
            problem = _dst_problem(self.timezone, hours.start, hours.end)
            if problem:
                raise ValueError(f"integration {self.id}: {problem}")
        seen: set[str] = set()
        for zone in self.zones:
            if zone.vendor_zone_id in seen:
                raise ValueError(
                    f"integration {self.id}: vendor zone {zone.vendor_zone_id!r} is listed twice"
                )
            seen.add(zone.vendor_zone_id)
        return self

    def endpoint(self, stage: str, live: bool) -> str | None:
        """The endpoint a stack uses: a preview the sandbox; a production its production
        endpoint once live, the sandbox before."""
        if stage == "production" and live:
            return self.endpoints.production
        return self.endpoints.preview

    @property
    def uses_scheduler(self) -> bool:
        """Whether this integration has schedules (a pull, or alarm switches)."""
        return self.mode == "pull" or self.enforcement_hours is not None

    def unmapped(self) -> list[ZoneMapping]:
        return [z for z in self.zones if not z.mapped]

    def zone_map(self) -> dict[str, str]:
        """Vendor zone id -> lot code, as ``map-zones`` wrote it: the map ingestion places
        this integration's sessions with (ignored and unmapped zones are not in it)."""
        return {z.vendor_zone_id: z.lot for z in self.zones if z.lot is not None}

    def lots(self) -> set[str]:
        return {z.lot for z in self.zones if z.lot is not None}


def integrations_problem(integrations: list[IntegrationSpec]) -> str | None:
    """Why a stack's list of integrations is not acceptable as a whole, or ``None``."""
    ids = [i.id for i in integrations]
    for index, ident in enumerate(ids):
        if ident in ids[:index]:
            return f"integration id {ident} is listed twice; each id once"
    return None


# ------------------------------------------------------------------ names


@dataclass(frozen=True)
class IntegrationNames:
    """The AWS names of one integration in one stack (each within its limit)."""

    queue: str
    dead_letter_queue: str
    schedule: str
    secret: str
    drop_prefix: str
    dlq_alarm: str
    silence_alarm: str
    silence_on_schedule: str
    """Enables the silence alarm's actions when enforcement starts (``enforcementHours``)."""
    silence_off_schedule: str
    """Disables them when it ends."""
    silence_rearm_schedule: str
    """Sets the alarm back to OK ``REARM_AFTER`` after it is switched on."""


def schedule_state(stage: str, live: bool) -> str:
    """A pull schedule runs in a preview (sandbox) and in a live production only: a
    production's is ``DISABLED`` until go-live (``promote`` switches it with
    ``tenants:live``; rollback switches it back)."""
    return "ENABLED" if stage == naming.PREVIEW or live else "DISABLED"


def alarms_act(stage: str, live: bool) -> bool:
    """An integration's alarms page a person only in a live production."""
    return stage == naming.PRODUCTION and live


def switch_state(stage: str, live: bool) -> str:
    """The enforcement-hours schedules that switch a silence alarm's actions run only where
    alarms act (``alarms_act``): ``DISABLED`` in a preview and in a production before
    go-live (``promote`` switches them with ``tenants:live``; rollback switches back)."""
    return "ENABLED" if alarms_act(stage, live) else "DISABLED"


def integration_names(slug: str, stage: str, integration_id: str) -> IntegrationNames:
    base = f"{slug}-{stage}-{naming.INTEGRATION_INFIX}-{integration_id}"
    return IntegrationNames(
        queue=base,
        dead_letter_queue=f"{base}-dlq",
        schedule=base,
        secret=f"{slug}/{stage}/integrations/{integration_id}",
        drop_prefix=f"integrations/{integration_id}/incoming/",
        dlq_alarm=f"{base}-dlq-not-empty",
        silence_alarm=f"{base}-silent",
        # "-int-" would leave no room in the 64 characters of a schedule name for the
        # longest slug and id: the switch schedules use "on" and "off" in its place
        # (naming.slug_problem keeps them unambiguous across clients).
        silence_on_schedule=f"{slug}-{stage}-{naming.SWITCH_ON_INFIX}-{integration_id}",
        silence_off_schedule=f"{slug}-{stage}-{naming.SWITCH_OFF_INFIX}-{integration_id}",
        silence_rearm_schedule=f"{slug}-{stage}-{naming.SWITCH_REARM_INFIX}-{integration_id}",
    )


def names_problem(names: IntegrationNames) -> str | None:
    """The first AWS name limit *names* exceeds, or ``None``."""
    checks = (
        ("SQS queue name", names.dead_letter_queue, limits.SQS_QUEUE_NAME_MAX),
        ("EventBridge Scheduler schedule name", names.schedule, limits.SCHEDULER_NAME_MAX),
        (
            "EventBridge Scheduler schedule name",
            names.silence_off_schedule,
            limits.SCHEDULER_NAME_MAX,
        ),
        ("Secrets Manager secret name", names.secret, limits.SECRETS_MANAGER_NAME_MAX),
        ("CloudWatch alarm name", names.dlq_alarm, limits.CLOUDWATCH_ALARM_NAME_MAX),
    )
    for what, name, most in checks:
        if len(name) > most:
            return f"{what} {name} is {len(name)} characters; AWS allows {most}"
    return None


def rate_expression(minutes: int) -> str:
    """EventBridge Scheduler's rate expression for every *minutes* minutes."""
    return f"rate({minutes} minute{'s' if minutes != 1 else ''})"


# ---------------------------------------------------------------- credentials


def credential_keys_problem(vendor: str, keys: list[str]) -> str | None:
    """Why credentials with *keys* cannot be stored for *vendor* (names keys, never values)."""
    fields = VENDORS[vendor].credential_fields
    unknown = [k for k in keys if k not in fields]
    if unknown:
        return (
            f"{len(unknown)} key(s) not known for {vendor}; expected "
            f"{', '.join(fields)} ({fields[0]} required)"
        )
    if fields[0] not in keys:
        return f"{fields[0]} is missing; {vendor} credentials need it"
    return None


# ---------------------------------------------------------------- readiness


@dataclass(frozen=True)
class ZoneCoverage:
    """How much of one integration's vendor zone list is mapped or ignored."""

    integration: str
    zones: int
    mapped: int
    ignored: int
    unmapped: tuple[str, ...]
    unknown_lots: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return self.zones > 0 and not self.unmapped and not self.unknown_lots

    def problem(self) -> str | None:
        if self.zones == 0:
            return (
                f"{self.integration}: no vendor zones recorded; run `tenantctl integration "
                "map-zones ... --write`"
            )
        if self.unmapped:
            shown = ", ".join(self.unmapped[:5]) + (" ..." if len(self.unmapped) > 5 else "")
            return f"{self.integration}: {len(self.unmapped)} unmapped zone(s): {shown}"
        if self.unknown_lots:
            return (
                f"{self.integration}: zone map names lot(s) the client does not have: "
                f"{', '.join(self.unknown_lots)}"
            )
        return None


def zone_coverage(integration: IntegrationSpec, lots: set[str]) -> ZoneCoverage:
    """Coverage of *integration*'s zone map against the client's lot codes *lots*."""
    return ZoneCoverage(
        integration=integration.id,
        zones=len(integration.zones),
        mapped=sum(1 for z in integration.zones if z.lot is not None),
        ignored=sum(1 for z in integration.zones if z.ignore),
        unmapped=tuple(
            f"{z.vendor_zone_id} ({z.vendor_zone_name})" if z.vendor_zone_name else z.vendor_zone_id
            for z in integration.unmapped()
        ),
        unknown_lots=tuple(sorted(integration.lots() - lots)),
    )


def readiness_problems(integrations: list[IntegrationSpec], lots: set[str]) -> list[str]:
    """What keeps *integrations* from going live, one line each (the rollout's
    "integrations verified" task and so the go-live gate): a vendor zone unmapped (named),
    a zone map onto a lot the client does not have, no zone list recorded. Empty: ready,
    or no integrations at all."""
    found = (zone_coverage(i, lots).problem() for i in integrations)
    return [p for p in found if p]


def diff_integrations(
    source: list[IntegrationSpec], target: list[IntegrationSpec]
) -> dict[str, list[str]]:
    """Integration ids promotion would add, change (any setting or zone) or remove going
    from *target*'s integrations (production) to *source*'s (preview)."""
    old = {i.id: i for i in target}
    new = {i.id: i for i in source}
    return {
        "added": sorted(set(new) - set(old)),
        "changed": sorted(k for k in new if k in old and new[k] != old[k]),
        "removed": sorted(set(old) - set(new)),
    }


def scheduler_queue_pattern(stage: str) -> str:
    """The SQS queue-name pattern of every integration queue (and dead-letter queue) of
    *stage*: ``integration_names`` with wildcards for the slug and the integration id, so
    the platform's scheduler role and the queues are named by one rule."""
    return integration_names("*", stage, "*").queue


def scheduler_alarm_pattern(stage: str) -> str:
    """The alarm-name pattern of every integration silence alarm of *stage*
    (``integration_names`` with wildcards), which the scheduler role may switch."""
    return integration_names("*", stage, "*").silence_alarm


ALARM_SWITCH_ACTIONS: tuple[str, ...] = (
    "cloudwatch:EnableAlarmActions",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:SetAlarmState",
)
"""What the enforcement-hours schedules call (EventBridge Scheduler universal targets
``arn:aws:scheduler:::aws-sdk:cloudwatch:enableAlarmActions`` / ``disableAlarmActions`` /
``setAlarmState``, the re-arm)."""


def scheduler_role_policies(stage: str, account: str = "<account>") -> dict[str, object]:
    """The trust and permission policies of *stage*'s platform scheduler role
    (``SCHEDULER_ROLE_OUTPUTS``): EventBridge Scheduler of *account* only, sending only to
    *stage*'s integration queues, and switching the actions of *stage*'s silence alarms
    (enforcement hours)."""
    return {
        "trust": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "scheduler.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        },
        "permissions": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sqs:SendMessage",
                    "Resource": f"arn:aws:sqs:*:{account}:{scheduler_queue_pattern(stage)}",
                },
                {
                    "Effect": "Allow",
                    "Action": list(ALARM_SWITCH_ACTIONS),
                    "Resource": (
                        f"arn:aws:cloudwatch:*:{account}:alarm:{scheduler_alarm_pattern(stage)}"
                    ),
                },
            ],
        },
    }
