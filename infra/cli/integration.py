"""``tenantctl integration``: a client's vendor feeds (mobile-parking apps, meters)."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from infra.cli.common import (
    TEXT,
    break_lock_option,
    echo_json,
    err,
    from_env_option,
    json_option,
    stacks_dir_option,
    stage_option,
)
from infra.core import naming
from infra.core.errors import ExitCode, LocalIOError, UserInputError
from infra.core.integration_config import MODES, VENDORS
from infra.core.integrations.roundtrip import DEFAULT_TIMEOUT_SECONDS


@click.group()
def integration() -> None:
    """A client's integrations: configuration in its stack files, credentials in secrets.

    \b
    Examples:
      tenantctl integration add demo parkmobile --vendor parkmobile --mode pull \\
          --schedule-minutes 5 --timezone America/Chicago \\
          --preview-endpoint https://sandbox.api.parkmobile.example
      tenantctl integration map-zones demo parkmobile --zones zones.csv --write
      tenantctl integration set-credentials demo parkmobile --stage preview < creds.json
      tenantctl integration list demo --json
      tenantctl integration test demo meters --timeout 20
      tenantctl integration replay demo meters --stage production
      tenantctl integration reconcile demo parkmobile --since 2026-05-01T00:00:00Z \\
          --until 2026-05-02T00:00:00Z
    """


@integration.command("add")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@click.option("--vendor", type=click.Choice(list(VENDORS)), required=True, help="The vendor.")
@click.option("--mode", type=click.Choice(MODES), required=True, help="How sessions arrive.")
@click.option("--schedule-minutes", type=int, help="pull mode: minutes between polls.")
@click.option("--timezone", "tz", type=TEXT, required=True, help="IANA timezone of its times.")
@click.option("--grace-minutes", type=int, help="Minutes a session stays valid after its end.")
@click.option(
    "--unmatched-zones",
    type=click.Choice(["quarantine", "drop"]),
    help="A session in an unmapped zone (default quarantine).",
)
@click.option("--silence-alarm-minutes", type=int, help="Alarm after this long with no message.")
@click.option("--preview-endpoint", type=TEXT, help="The vendor's sandbox API (pull, lookup).")
@click.option("--production-endpoint", type=TEXT, help="The vendor's production API.")
@click.option("--replace", is_flag=True, help="Change an existing integration of this id.")
@break_lock_option
@stacks_dir_option
@json_option
def add(
    slug: str,
    integration_id: str,
    vendor: str,
    mode: str,
    schedule_minutes: int | None,
    tz: str,
    grace_minutes: int | None,
    unmatched_zones: str | None,
    silence_alarm_minutes: int | None,
    preview_endpoint: str | None,
    production_endpoint: str | None,
    replace: bool,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Add an integration to the client's preview (promote carries it to production).

    The preview only ever talks to --preview-endpoint, which must be the vendor's
    sandbox (its host has a 'sandbox' label, or is 127.0.0.1/localhost). Running the
    same command again changes nothing; other settings for an existing ID need
    --replace (its zone map is kept).

    \b
    Examples:
      tenantctl integration add demo apds --vendor apds --mode push --timezone America/New_York
      tenantctl integration add demo pm --vendor parkmobile --mode pull --schedule-minutes 5 \\
          --timezone America/Chicago --preview-endpoint https://sandbox.api.parkmobile.example \\
          --production-endpoint https://api.parkmobile.example
    """
    from infra.ops.lifecycle.integration_config import add_integration

    fields: dict[str, Any] = {
        "id": integration_id,
        "vendor": vendor,
        "mode": mode,
        "timezone": tz,
        "scheduleMinutes": schedule_minutes,
        "graceMinutes": grace_minutes,
        "unmatchedZones": unmatched_zones,
        "silenceAlarmMinutes": silence_alarm_minutes,
    }
    data = {k: v for k, v in fields.items() if v is not None}
    endpoints = {"preview": preview_endpoint, "production": production_endpoint}
    if any(endpoints.values()):
        data["endpoints"] = {k: v for k, v in endpoints.items() if v}
    edited = add_integration(
        stacks_dir, slug, data, replace=replace, break_lock=break_lock, progress=err
    )
    if as_json:
        echo_json(edited.to_json())
    else:
        state = "added" if edited.changed else "unchanged (already so)"
        click.echo(f"{edited.stack}: integration {edited.integration} {state}")


@integration.command("remove")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@break_lock_option
@stacks_dir_option
@json_option
def remove(
    slug: str, integration_id: str, break_lock: str | None, stacks_dir: Path, as_json: bool
) -> None:
    """Remove an integration from the client's preview (its secret and queues go with the
    next deploy). Removing one that is not there changes nothing.

    \b
    Examples:
      tenantctl integration remove demo parkmobile
      tenantctl integration remove demo parkmobile --json
    """
    from infra.ops.lifecycle.integration_config import remove_integration

    edited = remove_integration(
        stacks_dir, slug, integration_id, break_lock=break_lock, progress=err
    )
    if as_json:
        echo_json(edited.to_json())
    else:
        state = "removed" if edited.changed else "not there (nothing to do)"
        click.echo(f"{edited.stack}: integration {edited.integration} {state}")


@integration.command("list")
@click.argument("slug")
@stage_option("Which stack's integrations to show.")
@stacks_dir_option
@json_option
def list_(slug: str, stage: naming.Stage, stacks_dir: Path, as_json: bool) -> None:
    """Show a stack's integrations: vendor, mode, zone map coverage, and whether each is
    live: the endpoint in use, a pull's schedule (ENABLED/DISABLED) and its alarms
    (on only in a live production; go-live switches them). A push integration shows its
    push URL on the platform's ingest endpoint: give that to the vendor.

    \b
    Examples:
      tenantctl integration list demo
      tenantctl integration list demo --stage production --json
    """
    from infra.ops.lifecycle.integration_config import list_integrations

    listing = list_integrations(stacks_dir, slug, stage)
    if as_json:
        echo_json(listing)
        return
    if not listing["integrations"]:
        click.echo(f"{listing['stack']}: no integrations")
    for item in listing["integrations"]:
        click.echo(
            f"{listing['stack']}  {item['id']:<16} {item['vendor']:<13} {item['mode']:<7} "
            f"zones {item['zonesMapped']}+{item['zonesIgnored']} ignored/{item['zones']} "
            f"({item['zonesUnmapped']} unmapped)  endpoint {item['endpoint'] or '-'}  "
            f"schedule {item['schedule'] or '-'}  alarms {'on' if item['alarmsAct'] else 'off'}"
            + (f"  push to {item['pushUrl']}" if item["pushUrl"] else "")
        )


@integration.command("test")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.001, max=600),
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds the round trip may take before it counts as failed.",
)
@break_lock_option
@stacks_dir_option
@json_option
@click.pass_context
def test(
    ctx: click.Context,
    slug: str,
    integration_id: str,
    timeout: float,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Send a TEST transaction through the preview integration ID and look it up.

    Preview only (there is no --stage): in the vendor's shape, a push (generic, APDS)
    signed with the integration's secret to the receive handler, a session posted to the
    vendor sandbox and pulled back (ParkMobile, APDS pull), or a dropped CSV file; then
    the adapter, ingestion into the preview's working database and the enforcement
    lookup. A passing round trip is recorded, with the configuration hash and release it
    ran against, in the rollout history: the "integrations verified" task needs one per
    integration since its last config change, on the release preview serves. A lookup
    integration has no round trip (refused, exit 3; the task names it not applicable).
    It holds the client's lock while it runs. Exit 3 when the round trip fails, 4 when
    another operation holds the client's lock, 5 when the vendor sandbox does not answer.

    \b
    Examples:
      tenantctl integration test demo meters
      tenantctl integration test demo meters --timeout 10 --json
      tenantctl integration test demo apds --break-lock 'stuck CI job 4411'
    """
    from infra.ops.lifecycle.integration_test import run_test
    from infra.ops.rollout.integration_tests import RoundTripHistory

    trip = run_test(
        stacks_dir,
        slug,
        integration_id,
        timeout=timeout,
        recorder=RoundTripHistory(),
        break_lock=break_lock,
        progress=err,
    )
    if as_json:
        echo_json(trip.to_json())
    else:
        click.echo(f"{trip.stack} {trip.integration}: TEST {trip.run_id} via {trip.via}")
        if trip.answer is not None:
            click.echo(f"lookup {trip.answer.plate} in {trip.answer.lot}: {trip.answer.reason}")
        verdict = "passed" if trip.passed else f"FAILED: {trip.problem}"
        click.echo(f"round trip {verdict} in {trip.seconds:.2f}s (config {trip.config_hash})")
        if trip.recorded:
            click.echo(trip.recorded)
    if not trip.passed:
        ctx.exit(ExitCode.PRECONDITION)


@integration.command("replay")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@stage_option("Whose dead-letter queue.")
@break_lock_option
@stacks_dir_option
@json_option
@click.pass_context
def replay(
    ctx: click.Context,
    slug: str,
    integration_id: str,
    stage: naming.Stage,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Re-drive integration ID's dead-letter queue into the stage's database.

    Each message (a delivery as the vendor sent it) goes through the integration's
    adapter and the ingestion, then is deleted; sessions already stored are counted, never
    stored twice (by source id and version), so it is safe to run again. A message that
    still cannot be read stays on the queue with its reason: exit 3 names it. It holds
    the client's lock while it runs (exit 4 when another operation holds it).

    \b
    Examples:
      tenantctl integration replay demo meters
      tenantctl integration replay demo meters --stage production --json
    """
    from infra.ops.lifecycle.integration_replay import run_replay

    result = run_replay(
        stacks_dir, slug, integration_id, stage, break_lock=break_lock, progress=err
    )
    counts = result.counts
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(
            f"{result.stack} {result.integration}: {counts.replayed} of {counts.messages} "
            f"message(s) replayed from {result.queue}: {counts.stored} session(s) stored, "
            f"{counts.already} already stored, {counts.quarantined} quarantined, "
            f"{counts.rows_rejected} row(s) rejected"
        )
        for left in counts.left:
            click.echo(f"left on the queue: message {left.message_id}: {left.reason}")
    if counts.left:
        ctx.exit(ExitCode.PRECONDITION)


def _instant(_ctx: click.Context, param: click.Parameter, value: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (a naive time is ambiguous: refused)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not ISO 8601, e.g. 2026-05-01T00:00:00-04:00", param=param
        ) from None
    if parsed.utcoffset() is None:
        raise click.BadParameter(
            f"{value!r} has no UTC offset; add one, e.g. {value}Z or {value}-04:00", param=param
        )
    return parsed.astimezone(UTC)


@integration.command("reconcile")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@click.option("--since", type=TEXT, callback=_instant, required=True, help="Window start (ISO).")
@click.option("--until", type=TEXT, callback=_instant, required=True, help="Window end (ISO).")
@click.option(
    "--drop-folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="file integrations: the folder of the vendor's dropped CSV files.",
)
@stage_option("Whose ingested sessions (and, for pull, which endpoint and credential).")
@stacks_dir_option
@json_option
@click.pass_context
def reconcile(
    ctx: click.Context,
    slug: str,
    integration_id: str,
    since: datetime,
    until: datetime,
    drop_folder: Path | None,
    stage: naming.Stage,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Compare what the vendor reports for a window with what was ingested.

    For a pull integration the vendor's API (the stage's endpoint and credential) is
    asked for every session changed since --since, all pages; for a file integration
    the CSV files of --drop-folder are read. Sessions starting in [--since, --until)
    are compared with the stage's ingested sessions of ID, by source id and version:
    missing (the vendor has it, we do not), extra (we have it, the vendor does not) and
    differs (another version, or cancelled on one side). Read-only: nothing is stored
    or sent but GETs, so no lock. Exit 6 when differences are found, 3 for a push or
    lookup integration (nothing to ask), 5 when the vendor does not answer.

    \b
    Examples:
      tenantctl integration reconcile demo parkmobile --since 2026-05-01T00:00:00-04:00 \\
          --until 2026-05-02T00:00:00-04:00
      tenantctl integration reconcile demo drops --since 2026-05-01T04:00:00Z \\
          --until 2026-05-01T16:00:00Z --drop-folder /srv/drops/demo --stage production --json
    """
    from infra.ops.lifecycle.integration_reconcile import run_reconcile

    result = run_reconcile(
        stacks_dir, slug, integration_id, stage, since, until, drop_folder=drop_folder
    )
    if as_json:
        echo_json(result.to_json())
    else:
        counts = result.counts()
        click.echo(
            f"{result.stack} {result.integration} {result.since.isoformat()} .. "
            f"{result.until.isoformat()}: vendor {result.vendor_sessions} session(s) "
            f"({result.source}), ingested {result.ingested_sessions}: "
            + ", ".join(f"{n} {k}" for k, n in counts.items())
        )
        for mismatch in result.mismatches:
            click.echo(mismatch.describe())
    if result.mismatches:
        ctx.exit(ExitCode.CHANGES)


@integration.command("map-zones")
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@click.option(
    "--zones",
    "zones_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The vendor's zone list: CSV (id,name header) or JSON ([{id, name}, ...]).",
)
@click.option(
    "--map",
    "mapped",
    multiple=True,
    metavar="ZONE=LOT",
    help="Map vendor zone ZONE onto lot code LOT (wins over any match); repeatable.",
)
@click.option(
    "--ignore",
    "ignored",
    multiple=True,
    metavar="ZONE",
    help="Ignore vendor zone ZONE on purpose (its sessions are dropped); repeatable.",
)
@click.option("--write", is_flag=True, help="Save the proposed map into the preview stack file.")
@break_lock_option
@stacks_dir_option
@json_option
def map_zones(
    slug: str,
    integration_id: str,
    zones_file: Path,
    mapped: tuple[str, ...],
    ignored: tuple[str, ...],
    write: bool,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Propose a map of the vendor's zones onto the client's lots (the preview's lots).

    Exact matches of a zone's id or name with a lot's code or name are mapped;
    near misses (different only in case, whitespace or punctuation, which an
    exact-name import silently drops) are proposed and flagged; the rest stay
    unmapped until mapped by hand or ignored (the go-live gate names them).
    Existing lots and ignores in the map are kept, so a re-run changes nothing;
    --map and --ignore record a person's decision for one zone.

    \b
    Examples:
      tenantctl integration map-zones demo parkmobile --zones zones.csv
      tenantctl integration map-zones demo parkmobile --zones zones.json --write --json
      tenantctl integration map-zones demo parkmobile --zones zones.csv --write \
          --map 104=C2 --ignore 999
    """
    from infra.core.integrations.zones import parse_zone_list
    from infra.ops.lifecycle.integration_config import map_zones as propose_map
    from infra.ops.lifecycle.integration_config import read_lots
    from infra.ops.stacks.opening import open_preview

    try:
        data = zones_file.read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{zones_file} does not exist; give the vendor's zone list") from None
    except OSError as exc:
        raise LocalIOError(f"cannot read {zones_file}: {exc.strerror or exc}") from None
    zones = parse_zone_list(data, str(zones_file))
    choices: dict[str, str | None] = {zone: None for zone in ignored}
    for item in mapped:
        zone, equals, lot = item.partition("=")
        if not equals or not zone.strip() or not lot.strip():
            raise UserInputError(f"--map {item!r} is not ZONE=LOT, e.g. --map 104=C2")
        choices[zone.strip()] = lot.strip()
    stack = open_preview(stacks_dir, slug, "integration map-zones")
    lots = read_lots(stack.working_url)
    result = propose_map(
        stacks_dir,
        slug,
        integration_id,
        zones,
        lots,
        choices=choices,
        write=write,
        break_lock=break_lock,
        progress=err,
    )
    if as_json:
        echo_json(result.to_json())
        return
    for p in result.proposals:
        click.echo(f"{p.zone.id:<16} {p.zone.name[:32]:<32} {p.match:<10} {p.why}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(result.counts.items()))
    if write:
        state = "written" if result.changed else "unchanged (already so)"
        err(f"{result.stack}: zone map of {integration_id} {state}: {summary}")
    else:
        err(f"{result.stack}: {summary}; nothing written (pass --write to save it)")


_KEYS = "; ".join(f"{name}: {', '.join(v.credential_fields)}" for name, v in VENDORS.items())
_SET_CREDENTIALS_HELP = f"""Store an integration's vendor credentials for one stack.

    Credentials come from stdin (or --from-env VAR), never from an argument, as
    a JSON object or KEY=value lines with the vendor's keys ({_KEYS}; the first
    is required). They are never printed, logged or put in --json. The stack
    must be deployed (its secret exists).

    \b
    Examples:
      tenantctl integration set-credentials demo parkmobile --stage preview < sandbox.json
      tenantctl integration set-credentials demo apds --stage production --from-env APDS_KEY
    """


@integration.command("set-credentials", help=_SET_CREDENTIALS_HELP)
@click.argument("slug")
@click.argument("integration_id", metavar="ID")
@click.option(
    "--stage",
    type=click.Choice(naming.STAGES),
    required=True,
    help="Which stack's credentials to set (one secret per integration per stage).",
)
@from_env_option
@break_lock_option
@stacks_dir_option
@json_option
def set_credentials(
    slug: str,
    integration_id: str,
    stage: naming.Stage,
    env_var: str | None,
    break_lock: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    from infra.ops.lifecycle.integration_config import store_integration_credentials

    if env_var:
        text = os.environ.get(env_var)
        if text is None:
            raise UserInputError(
                f"environment variable {env_var} is not set; export it or pipe to stdin"
            )
    else:
        if sys.stdin.isatty():
            err("Paste the credentials (JSON or KEY=value lines), then Ctrl-D:")
        text = sys.stdin.read()
    stored = store_integration_credentials(
        stacks_dir, slug, stage, integration_id, text, break_lock=break_lock, progress=err
    )
    if as_json:
        echo_json(stored.to_json())
    else:
        click.echo(
            f"{stored.stack}: credentials of {stored.integration} ({', '.join(stored.keys)}) "
            f"stored in {stored.secret}"
        )


COMMANDS = [integration]
