"""The local target really starts moto and PostgreSQL, and really stops them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest

from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.devtools import localtarget


def env_file(state_dir: Path) -> dict[str, str]:
    values = {}
    for line in (state_dir / localtarget.ENV_FILE).read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value.strip("'")
    return values


@pytest.fixture
def started(tmp_path: Path) -> Iterator[localtarget.LocalTarget]:
    target = localtarget.start(tmp_path)
    yield target
    localtarget.stop(tmp_path, purge=True)


def test_start_writes_an_env_file_that_reaches_both_services(
    started: localtarget.LocalTarget, tmp_path: Path
) -> None:
    env = env_file(tmp_path)

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    s3.create_bucket(Bucket="local-check")
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == sorted(
        [
            "local-check",  # and the platform's two:
            EXAMPLE_PLATFORM_OUTPUTS["accessLogBucketName"],
            EXAMPLE_PLATFORM_OUTPUTS["operationsBucketName"],
        ]
    )
    operations = str(EXAMPLE_PLATFORM_OUTPUTS["operationsBucketName"])
    assert s3.get_bucket_versioning(Bucket=operations)["Status"] == "Enabled"
    sesv2 = boto3.client(
        "sesv2",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    # the emulator answers the account APIs moto lacks, set up as preflight wants them
    assert sesv2.get_account()["ProductionAccessEnabled"] is True
    with psycopg.connect(env[localtarget.DATABASE_URL_ENV]) as conn:
        assert conn.info.server_version // 10000 == 15


def test_start_again_reuses_the_running_services(
    started: localtarget.LocalTarget, tmp_path: Path
) -> None:
    assert localtarget.start(tmp_path) == started


def test_status_reports_both_services_running(
    started: localtarget.LocalTarget, tmp_path: Path
) -> None:
    status = localtarget.status(tmp_path)

    assert (status.moto_running, status.postgres_running) == (True, True)


def test_stop_leaves_no_process_behind(tmp_path: Path) -> None:
    target = localtarget.start(tmp_path)

    status = localtarget.stop(tmp_path)

    assert not status.moto_running and not status.postgres_running
    assert not Path(f"/proc/{target.moto_pid}").exists() or not localtarget._is_process(
        target.moto_pid, "moto.server"
    )
    assert not (target.postgres.data_dir / "postmaster.pid").exists()
    localtarget.stop(tmp_path, purge=True)


def test_start_after_a_stop_resets_the_whole_state_together(tmp_path: Path) -> None:
    """moto's buckets and parameters die with it, so the databases must not outlive them."""
    target = localtarget.start(tmp_path)
    with psycopg.connect(target.database_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE kept")
    localtarget.stop(tmp_path)
    assert localtarget.start_mode(tmp_path) == "reset"

    again = localtarget.start(tmp_path)
    try:
        with psycopg.connect(again.database_url) as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
        assert "kept" not in names
        assert not target.pg_root.exists() or target.pg_root == again.pg_root
        assert localtarget.start_mode(tmp_path) == "kept"
    finally:
        localtarget.stop(tmp_path, purge=True)
    assert not again.pg_root.exists()
    assert not (tmp_path / localtarget.ENV_FILE).exists()
    assert localtarget.describe(localtarget.status(tmp_path))[0].startswith(
        "local target: not set up"
    )


def test_status_without_a_start_reports_nothing_running(tmp_path: Path) -> None:
    assert localtarget.status(tmp_path) == localtarget.LocalStatus(None, False, False)


def test_in_process_serves_s3_on_a_free_port() -> None:
    with localtarget.in_process() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="in-process")
        # moto's backends are per process, so other tests' buckets may be listed too.
        assert "in-process" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert endpoint.startswith("http://127.0.0.1:")
