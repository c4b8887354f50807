"""The state fixtures' snapshots (tests/snapshots.py): a restore is what a real build leaves,
and a step restores only from a state it knows."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from infra.ops.adapters import aws
from tests.helpers import create_demo, tables
from tests.snapshots import Steps, user_databases


@pytest.fixture
def own_steps(pg_admin_url: str) -> Iterator[Steps]:
    """Steps of this test alone (the suite's keep what earlier tests built)."""
    made = Steps(pg_admin_url)
    yield made
    made.discard()


def pristine(endpoint: str, admin_url: str) -> None:
    """What aws_env and pg_env leave: moto reset, only the system databases."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
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
        versions = s3.list_object_versions(Bucket=bucket).get("Versions", [])
        seen["buckets"][bucket] = {
            "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
            "objects": sorted(
                (v["Key"], v["VersionId"], v["IsLatest"], v["ETag"]) for v in versions
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


def test_a_restored_create_is_exactly_what_the_create_left(
    tmp_path: Path,
    aws_env: str,
    pg_env: str,
    own_steps: Steps,
    monkeypatch: pytest.MonkeyPatch,
):
    built = create_demo(tmp_path / "built", monkeypatch, steps=own_steps)
    expected = everything(pg_env, built)
    pristine(aws_env, pg_env)

    restored = create_demo(tmp_path / "restored", monkeypatch, steps=own_steps)

    assert own_steps.counts == {"built": 1, "restored": 1, "unknown state": 0}
    assert expected["buckets"] and expected["pools"] and len(expected["databases"]) == 4
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
    pristine(aws_env, pg_env)
    assert (step("one"), step("two")) == ("one", "two")  # both restored
    assert ran == ["one", "two"]

    pristine(aws_env, pg_env)
    step("one")
    _put("/outside", "a change no step made")
    step("two")  # from a state no step left: built, and not kept
    pristine(aws_env, pg_env)
    step("one")
    with psycopg.connect(pg_env, autocommit=True) as conn:
        conn.execute("CREATE DATABASE made_outside")
    step("two")
    pristine(aws_env, pg_env)
    monkeypatch.setenv("TENANTCTL_SOMETHING", "else")
    step("one")  # another environment: another step

    assert ran == ["one", "two", "two", "two", "one"]
    assert own_steps.counts == {"built": 3, "restored": 4, "unknown state": 2}
