"""Shared test data and helpers: the reference tenant as the stack files define it, the
CLI run in process, and the demo client's content and databases on the local target.

Fixtures built on these are in conftest.py."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
from click.testing import CliRunner, Result
from moto import settings as moto_settings
from ruamel.yaml import YAML

from infra.cli import main
from infra.core import naming
from infra.core.spec import TenantSpec, spec_from_config
from infra.ops.adapters import aws
from infra.ops.adapters.content_store import ContentStore
from infra.ops.adapters.database import database_url
from tests.snapshots import Steps

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
SCHEMAS = ROOT / "infra" / "schemas"
EXAMPLE = STACKS / "tenant.example.yaml"
TENANTCTL = str(Path(sys.executable).parent / "tenantctl")

SLUG = "demo"

LIVE = '{"secretKey": "sk_live_e2e0000000000000000000", "webhookSecret": "whsec_e2e"}'
SANDBOX = '{"secretKey": "sk_test_e2e0000000000000000000"}'

ACME_REQUIRED_OPTIONS = [
    "--display-name", "Acme College Parking",
    "--platform-stack", "acme/platform/prod",
    "--payment-provider", "stripe",
    "--merchant-id", "acct_1AcmeCollege01",
    "--organization", "Acme College",
    "--support-email", "parking@acme.example.edu",
    "--admin", "pat@acme.example.edu:Pat Lee:administrator",
]  # fmt: skip
"""The options `create acme` needs without a tenant file."""


def stack_config(stage: str, slug: str = "demo") -> dict[str, Any]:
    data = YAML(typ="safe").load((STACKS / f"Pulumi.{slug}-{stage}.yaml").read_text())
    return dict(data["config"])


def demo_spec(stage: str) -> TenantSpec:
    return spec_from_config(stack_config(stage), expected_stack=f"demo-{stage}")


def demo_data(stage: str) -> dict[str, Any]:
    """The demo spec as plain camelCase data (no namespace), for building variants."""
    return {
        k.split(":", 1)[1]: v for k, v in stack_config(stage).items() if k.startswith("tenants:")
    }


def demo_bucket(stage: str, slug: str = "demo") -> str:
    """The content bucket the program names for the reference platform (acme/platform/prod)."""
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS

    installation = naming.installation_id(
        EXAMPLE_PLATFORM_OUTPUTS["kmsKeyArn"], "acme/platform/prod"
    )
    return naming.content_bucket(slug, stage, installation)  # type: ignore[arg-type]


def stack_settings_of(stage: str, slug: str = "demo") -> dict[str, Any]:
    """The stack's one settings parameter (``/<slug>/<stage>/settings``), parsed."""
    value = aws.client("ssm").get_parameter(Name=naming.settings_parameter(slug, stage))  # type: ignore[arg-type]
    document: dict[str, Any] = json.loads(value["Parameter"]["Value"])
    return document


def payment_mode(stage: str, slug: str = "demo") -> str:
    return str(stack_settings_of(stage, slug)["payment"]["mode"])


def lock_place() -> Any:
    """Where the local target keeps every client's lock (the example platform's
    operations bucket, in the default region): a ``locking.LockPlace``."""
    from infra.devtools.localtarget import LOCAL_OPERATIONS_BUCKET
    from infra.ops.stacks.locking import LockPlace

    return LockPlace(LOCAL_OPERATIONS_BUCKET, naming.DEFAULT_REGION)


@contextlib.contextmanager
def lock_held_elsewhere(slug: str, operation: str) -> Iterator[None]:
    """*slug*'s lock held by another thread, as another process would hold it.

    The lock is re-entrant within one thread, and CliRunner runs a command in the
    test's own thread, so holding it here would let the command through.
    """
    from infra.ops.stacks.locking import client_lock

    taken, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            with client_lock(slug, operation, lock_place()):
                taken.set()
                release.wait(60)
        except BaseException as exc:  # surfaced in the test's thread below
            failure.append(exc)
            taken.set()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    taken.wait(30)
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        release.set()
        holder.join(30)


# ------------------------------------------------------------------------- the CLI


def cli(stacks: Path, *args: str, input: str | None = None) -> Result:
    """``tenantctl *args --stacks-dir stacks``, in process."""
    return CliRunner().invoke(main, [*args, "--stacks-dir", str(stacks)], input=input)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema infra/schemas/<name>.schema.json."""
    document: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return document


def validate(name: str, document: Any) -> Any:
    """*document* checked against infra/schemas/<name>.schema.json (draft 2020-12); returned."""
    found = schema(name)
    jsonschema.Draft202012Validator.check_schema(found)
    jsonschema.validate(document, found, cls=jsonschema.Draft202012Validator)
    return document


def with_platform(folder: Path) -> Path:
    """*folder* (made if missing) with the platform outputs file every command reads the
    tenant's platform from, as beside the reference stacks."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "platform-outputs.yaml").exists():
        shutil.copy(STACKS / "platform-outputs.yaml", folder)
    return folder


def create_demo(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
    acm_wait: int = 0,
    steps: Steps | None = None,
) -> Path:
    """The demo client created from the example tenant file in a new folder tmp_path/stacks,
    on the local target; moto issues certificates after *acm_wait* seconds (no DNS here).

    With *steps*, a create run earlier in this process from the same state, with the same
    wait, is restored instead (tests/snapshots.py). moto reads the wait when a certificate
    is described, and a create requests none (the domain commands do), so the wait is in
    the step's name only to keep a restore exact should that change."""
    monkeypatch.setattr(moto_settings, "ACM_VALIDATION_WAIT", acm_wait)
    folder = tmp_path / "stacks"

    def build() -> None:
        with_platform(folder)
        ok(cli(folder, "create", SLUG, "--from", str(EXAMPLE), *extra))

    if steps is None:
        build()
    else:
        wait = f" (ACM issues after {acm_wait} s)" if acm_wait else ""
        name = f"create {SLUG} --from {EXAMPLE.name} {' '.join(extra)}".strip() + wait
        steps.run(name, build, folder)
    return folder


def publish_client_cname(domain: str, target: str | None = None) -> None:
    """What the client's DNS team does at go-live: *domain* CNAME *target* (by default the
    platform's routing endpoint), in a zone of the emulator's Route 53 for the domain's
    parent (where ``VerifyDnsConfiguration`` looks on the local target)."""
    from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS

    route53 = aws.client("route53")
    parent = domain.split(".", 1)[1]
    zones = route53.list_hosted_zones_by_name(DNSName=parent)["HostedZones"]
    zone = next((z["Id"] for z in zones if z["Name"].rstrip(".") == parent), None)
    if zone is None:
        zone = route53.create_hosted_zone(Name=parent, CallerReference=f"client-{parent}")[
            "HostedZone"
        ]["Id"]
    record = {
        "Name": domain,
        "Type": "CNAME",
        "TTL": 300,
        "ResourceRecords": [
            {"Value": target or EXAMPLE_PLATFORM_OUTPUTS["connectionGroupRoutingEndpoint"]}
        ],
    }
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


def ready_for_go_live(folder: Path, slug: str = SLUG) -> None:
    """The client's own domain made ready for promote on the local target: certificate
    requested (moto issues it after ``ACM_VALIDATION_WAIT``, 0 in ``create_demo``),
    attached to CloudFront, and the client's CNAME published."""
    ok(cli(folder, "domain", "request-certificate", slug))
    ok(cli(folder, "domain", "attach", slug))
    domain = spec_from_config(
        dict(
            YAML(typ="safe").load(naming.stack_file(folder, slug, "production").read_text())[
                "config"
            ]
        )
    ).portal_domain
    assert domain is not None
    publish_client_cname(domain)


def make_ready(stacks: Path, pg_admin_url: str) -> None:
    """What the ``ready`` fixture adds to a created client: edited in preview, live
    credentials staged for production, the client's own domain ready."""
    edit_preview(pg_admin_url)
    ok(cli(stacks, "payment", "set-credentials", SLUG, "--stage", "production", input=LIVE))
    ready_for_go_live(stacks)


def copy_demo_stack_files(folder: Path) -> Path:
    """The demo client's stack files (as in stacks/) copied into *folder*."""
    for stage in naming.STAGES:
        shutil.copy(naming.stack_file(STACKS, "demo", stage), folder)
    return with_platform(folder)


# ------------------------------------------------------- the demo client's content


def store(stage: naming.Stage = "preview", slug: str = SLUG) -> ContentStore:
    """The content store of *slug*'s *stage* (the reference platform's bucket)."""
    return ContentStore(aws.client("s3"), demo_bucket(stage, slug))


def served(stage: naming.Stage = "preview") -> dict[str, str]:
    """The manifest of the release the demo client's *stage* serves."""
    s = store(stage)
    current = s.current()
    assert current is not None
    release = s.release(current.release)
    assert release is not None
    return dict(release.files)


def bucket_bytes(stage: naming.Stage) -> dict[str, bytes]:
    """Every object in the demo client's *stage* bucket, by key."""
    s3 = aws.client("s3")
    bucket = demo_bucket(stage)
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in sorted(keys)}


# ----------------------------------------------------- the demo client's databases


def db_url(
    pg_admin_url: str, stage: naming.Stage, name: str | None = None, slug: str = SLUG
) -> str:
    """The URL of *name*, by default *slug*'s working database of *stage*."""
    return database_url(pg_admin_url, name or naming.database_name(slug, stage))


def tables(
    url: str, schemas: tuple[str, ...] = ("config", "activity", "stack")
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in *schemas*, in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        names = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' ORDER BY 1",
            (list(schemas),),
        ).fetchall()
        for (name,) in names:
            rows = conn.execute(f"SELECT * FROM {name}").fetchall()
            out[name] = sorted(rows, key=repr)
    return out


def edit_preview(pg_admin_url: str, marker: str = "edited") -> None:
    """What a client does in phase 3: content, configuration and some test sales."""
    s = store("preview")
    files = served("preview")
    home = s.read(s.current().release, "portal/home.html").decode()  # type: ignore[union-attr]
    release = s.publish(
        files={
            "portal/home.html": home.replace("</main>", f"<p>{marker}</p></main>").encode(),
            "portal/parking-map.html": f"<h1>Map {marker}</h1>".encode(),
        },
        manifest={
            k: v for k, v in files.items() if k not in ("portal/home.html", "portal/help.html")
        },
        source="test edit",
    )
    s.switch(release.id)
    with psycopg.connect(db_url(pg_admin_url, "preview")) as conn:
        conn.execute("UPDATE config.permit_types SET price_cents = price_cents + 1500")
        # Idempotent: a second edit (after an undo brought the first back) still applies.
        conn.execute(
            "INSERT INTO config.lots (code, name, capacity, kind) "
            "VALUES ('LOT-Z', 'Stadium Overflow', 400, 'surface') ON CONFLICT DO NOTHING"
        )
        conn.execute("DELETE FROM config.system_messages WHERE code = 'maintenance'")
        conn.execute(
            "INSERT INTO activity.accounts (email, full_name, affiliation) "
            "VALUES ('tester@demo-state.example.edu', 'Test Student', 'student') "
            "ON CONFLICT DO NOTHING"
        )


# ------------------------------------------------------------------ billing events


def drain(url: str) -> list[dict[str, Any]]:
    """Every message waiting in the SQS queue at *url*, parsed and deleted."""
    sqs = aws.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return found
        for m in batch:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# ------------------------------------------------------------------ git histories

CLIENTS = ("alpha", "bravo", "demo")
"""The clients in the ``repo`` fixture's history."""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def write_stack(repo: Path, slug: str, stage: str, extra: str = "") -> None:
    """The demo client's *stage* stack file, renamed to *slug*, in repo/stacks."""
    text = (STACKS / f"Pulumi.demo-{stage}.yaml").read_text().replace("demo", slug) + extra
    (repo / "stacks" / f"Pulumi.{slug}-{stage}.yaml").write_text(text)
