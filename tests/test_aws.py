"""The boto3 factories: explicit region, endpoint from AWS_ENDPOINT_URL."""

from __future__ import annotations

from typing import Any

import pytest

from infra.ops.adapters import aws


def test_client_uses_the_endpoint_from_the_environment(aws_env: str) -> None:
    assert aws.client("s3").meta.endpoint_url == aws_env


def test_region_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")

    assert aws.client("ssm", "ca-central-1").meta.region_name == "ca-central-1"
    assert aws.client("ssm").meta.region_name == "eu-west-1"
    monkeypatch.delenv("AWS_REGION")
    assert aws.region_name() == "eu-central-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert aws.region_name() == aws.DEFAULT_REGION


def test_client_pool_fits_the_thread_pool(aws_env: str) -> None:
    config: Any = aws.client("s3").meta.config
    assert config.max_pool_connections > aws.MAX_CONCURRENCY


def test_clients_share_one_model_loader_whose_search_path_does_not_grow():
    first = aws.client("s3")
    paths = list(aws._loader().search_paths)
    for service in ("ssm", "s3", "secretsmanager", "s3"):
        aws.client(service)
    assert aws._loader().search_paths == paths
    assert len(set(paths)) == len(paths)
    assert first.meta.service_model.service_name == "s3"


def test_a_client_is_kept_until_the_aws_environment_changes(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = aws.client("ssm")
    assert aws.client("ssm") is first
    assert aws.client("ssm", "eu-west-1") is not first
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    moved = aws.client("ssm")
    assert moved is not first and moved.meta.endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "other")
    assert aws.client("ssm") is not moved
