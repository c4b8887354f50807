"""Listener-rule priorities stay unique however many clients share the listener."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from infra.cli import main
from infra.core.platform import (
    TENANT_RULE_PRIORITY_MAX,
    TENANT_RULE_PRIORITY_MIN,
    free_priority,
    listener_rule_priority,
)
from infra.ops.stacks import stackfiles
from tests.helpers import with_platform

OPTIONS = [
    "--display-name", "Example College Parking",
    "--platform-stack", "acme/platform/prod",
    "--payment-provider", "stripe",
    "--merchant-id", "acct_1ExampleColl01",
    "--organization", "Example College",
    "--support-email", "parking@example.edu",
    "--admin", "pat@example.edu:Pat Lee:administrator",
]  # fmt: skip


def colliding_slugs() -> tuple[str, str]:
    """Two client slugs whose production stacks hash to the same priority."""
    seen: dict[int, str] = {}
    index = 0
    while True:
        slug = f"client-{index}"
        priority = listener_rule_priority(f"{slug}-production")
        if priority in seen:
            return seen[priority], slug
        seen[priority] = slug
        index += 1


def create(stacks: Path, slug: str) -> None:
    result = CliRunner().invoke(
        main, ["create", slug, *OPTIONS, "--stacks-dir", str(with_platform(stacks)), "--no-deploy"]
    )
    assert result.exit_code == 0, result.output


def test_create_gives_a_colliding_stack_the_next_free_priority(tmp_path: Path) -> None:
    first, second = colliding_slugs()
    create(tmp_path, first)
    create(tmp_path, second)

    a = stackfiles.read_spec(tmp_path, first, "production").rule_priority
    b = stackfiles.read_spec(tmp_path, second, "production").rule_priority

    assert a == listener_rule_priority(f"{first}-production")
    assert b != a
    assert TENANT_RULE_PRIORITY_MIN <= b <= TENANT_RULE_PRIORITY_MAX


def test_creating_again_keeps_the_recorded_priority(tmp_path: Path) -> None:
    first, second = colliding_slugs()
    create(tmp_path, first)
    create(tmp_path, second)
    before = (tmp_path / f"Pulumi.{second}-production.yaml").read_text()

    create(tmp_path, second)

    assert (tmp_path / f"Pulumi.{second}-production.yaml").read_text() == before


def test_free_priority_wraps_past_the_top_of_the_range() -> None:
    name = "demo-production"
    taken = set(range(listener_rule_priority(name), TENANT_RULE_PRIORITY_MAX + 1))

    assert free_priority(name, taken) == TENANT_RULE_PRIORITY_MIN
