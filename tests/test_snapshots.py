"""The state fixtures' snapshots (tests/snapshots.py): a restore is what a real build leaves,
and a step restores only from a state it knows."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infra.devtools import localtarget
from infra.ops.adapters import aws
from tests.helpers import create_demo, make_ready, tables
from tests.snapshots import READY_STEP, Steps, user_databases


@pytest.fixture
def own_steps(pg_admin_url: str) -> Iterator[Steps]:
    """Steps of this test alone (the suite's keep what earlier tests built)."""
    made = Steps(pg_admin_url)
    made.moto_base()  # aws_env ran before, for the suite's steps
    yield made
    made.discard()


def pristine(endpoint: str, admin_url: str, steps: Steps) -> None:
    """What aws_env and pg_env leave: moto reset (and the operations bucket), only the
    system databases."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    localtarget.create_operations_bucket(endpoint, localtarget.LOCAL_REGION)
    steps.moto_base()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in user_databases(conn):
            conn.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def everything(admin_url: str, folder: Path) -> dict[str, Any]:
    """All a test can observe of the emulator, the databases and the folder."""
    s3, ssm, secrets = aws.client("s3"), aws.client("ssm"), aws.client("secretsmanager")
    idp, acm, sesv2 = aws.client("cognito-idp"), aws.client("acm"), aws.client("sesv2")
    seen: dict[str, Any] = {"buckets": {}}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        listed = s3.list_object_versions(Bucket=bucket)
        seen["buckets"][bucket] = {
            "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
            "objects": sorted(
                (v["Key"], v["VersionId"], v["IsLatest"], v.get("ETag", "deleted"))
                for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
            ),
        }
    names = [p["Name"] for p in ssm.describe_parameters(MaxResults=50)["Parameters"]]
    seen["parameters"] = sorted(
        (p["Name"], p["Value"], p["Version"]) for p in ssm.get_parameters(Names=names)["Parameters"]
    )
    seen["secrets"] = sorted(
        (s["Name"], s["ARN"], sorted((t["Key"], t["Value"]) for t in s.get("Tags", [])))
        for s in secrets.list_secrets()["SecretList"]
    )
    pools = idp.list_user_pools(MaxResults=10)["UserPools"]
    seen["pools"] = {
        p["Id"]: (
            p["Name"],
            sorted(g["GroupName"] for g in idp.list_groups(UserPoolId=p["Id"])["Groups"]),
            sorted(u["Username"] for u in idp.list_users(UserPoolId=p["Id"])["Users"]),
        )
        for p in pools
    }
    seen["certificates"] = sorted(
        (c["CertificateArn"], c["DomainName"], c["Status"])
        for c in acm.list_certificates()["CertificateSummaryList"]
    )
    route53 = aws.client("route53")
    seen["records"] = sorted(
        (r["Name"], r["Type"], str(r.get("ResourceRecords")))
        for z in route53.list_hosted_zones()["HostedZones"]
        for r in route53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]
    )
    cloudfront = aws.client("cloudfront")  # moto lists no tenants: by the ids the target kept
    ids = [
        i
        for name, value, _ in seen["parameters"]
        if "/local-ids/" in name
        for i in json.loads(value).values()
        if isinstance(i, str) and not i.startswith("arn:")
    ]
    seen["distribution tenants"] = sorted(
        str(cloudfront.get_distribution_tenant(Identifier=i)["DistributionTenant"]) for i in ids
    )
    seen["identities"] = sorted(
        i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]
    )
    seen["databases"] = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in user_databases(conn):
            row = conn.execute(
                "SELECT datistemplate, datallowconn, datacl, "
                "shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (name,),
            ).fetchone()
            url = admin_url.rsplit("/", 1)[0] + "/" + name
            seen["databases"][name] = (row, tables(url, ("config", "activity", "stack")))
    seen["files"] = {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
    return seen


@pytest.mark.parametrize("ready", [False, True], ids=["created", "ready"])
def test_a_restored_state_fixture_is_exactly_what_building_it_left(
    tmp_path: Path,
    aws_env: str,
    pg_env: str,
    own_steps: Steps,
    monkeypatch: pytest.MonkeyPatch,
    ready: bool,
):
    def build(folder: Path) -> Path:
        stacks = create_demo(folder, monkeypatch, steps=own_steps)
        if ready:
            own_steps.run(READY_STEP, lambda: make_ready(stacks, pg_env), stacks)
        return stacks

    built = build(tmp_path / "built")
    expected = everything(pg_env, built)
    pristine(aws_env, pg_env, own_steps)

    restored = build(tmp_path / "restored")

    steps = 2 if ready else 1
    assert own_steps.counts == {"built": steps, "restored": steps, "unknown state": 0}
    assert expected["buckets"] and expected["pools"] and len(expected["databases"]) == 4
    assert any(kind == "CNAME" for _, kind, _ in expected["records"]) == ready
    assert everything(pg_env, restored) == expected


def _put(name: str, value: str) -> None:
    aws.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def test_a_step_restores_only_from_the_state_it_was_built_from(
    aws_env: str, pg_env: str, own_steps: Steps, monkeypatch: pytest.MonkeyPatch
):
    ran: list[str] = []

    def step(name: str) -> str:
        def build() -> str:
            ran.append(name)
            _put(f"/{name}", "x")
            return name

        return own_steps.run(name, build)

    assert (step("one"), step("two")) == ("one", "two")
    pristine(aws_env, pg_env, own_steps)
    assert (step("one"), step("two")) == ("one", "two")  # both restored
    assert ran == ["one", "two"]

    pristine(aws_env, pg_env, own_steps)
    step("one")
    _put("/outside", "a change no step made")
    step("two")  # from a state no step left: built, and not kept
    pristine(aws_env, pg_env, own_steps)
    step("one")
    with psycopg.connect(pg_env, autocommit=True) as conn:
        conn.execute("CREATE DATABASE made_outside")
    step("two")
    pristine(aws_env, pg_env, own_steps)
    monkeypatch.setenv("TENANTCTL_SOMETHING", "else")
    step("one")  # another environment: another step

    assert ran == ["one", "two", "two", "two", "one"]
    assert own_steps.counts == {"built": 3, "restored": 4, "unknown state": 2}


def test_a_variable_naming_the_steps_folder_keys_it_wherever_the_folder_is(
    tmp_path: Path, aws_env: str, pg_env: str, own_steps: Steps, monkeypatch: pytest.MonkeyPatch
):
    ran: list[str] = []

    def step(folder: Path, named: Path) -> None:
        monkeypatch.setenv("TENANTCTL_STACKS_DIR", str(named))

        def build() -> None:
            ran.append(folder.name)
            folder.mkdir()
            (folder / "made").write_text(folder.name)
            _put("/made", folder.name)

        own_steps.run("make", build, folder)
        pristine(aws_env, pg_env, own_steps)

    step(tmp_path / "first", tmp_path / "first")
    step(tmp_path / "second", tmp_path / "second")  # the same step in another place
    step(tmp_path / "third", tmp_path / "elsewhere")  # the variable names another folder

    assert ran == ["first", "third"]
    assert (tmp_path / "second" / "made").read_text() == "first"
    assert own_steps.counts == {"built": 2, "restored": 1, "unknown state": 0}
