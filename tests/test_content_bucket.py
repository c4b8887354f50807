"""Operations learn a stack's content bucket from its outputs, never by recomputing it."""

from __future__ import annotations

import pytest

from infra.core.errors import EnvironmentProblem
from infra.ops.stacks.handle import content_bucket_of
from tests.helpers import demo_spec


def test_the_bucket_comes_from_the_content_bucket_output() -> None:
    outputs = {"contentBucket": "tenantctl-demo-preview-content-0badc0de"}

    assert content_bucket_of(demo_spec("preview"), outputs) == outputs["contentBucket"]


def test_without_outputs_the_bucket_is_not_guessed() -> None:
    with pytest.raises(EnvironmentProblem, match="cannot find the content bucket of demo-preview"):
        content_bucket_of(demo_spec("preview"), None)
