"""One SSM parameter per stack: the settings document's rule, and who writes which key.

The program creates ``/<slug>/<stage>/settings`` and then leaves its value alone;
tenantctl writes ``payment`` after every deploy and on reset, staff write
``allowedRecipients``; neither overwrites the other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.core import limits, stack_settings
from infra.core.errors import ExitCode
from infra.devtools.localapply import LocalDeployer
from infra.ops.adapters import aws
from tests.helpers import SLUG, cli, demo_spec, ok, payment_mode, stack_settings_of

# ------------------------------------------------------------------- the pure rule


def test_a_document_is_rendered_compact_sorted_and_ascii() -> None:
    text = stack_settings.render(
        {"payment": {"mode": "sandbox"}, "allowedRecipients": ["é@x.example"]}
    )
    assert text == '{"allowedRecipients":["\\u00e9@x.example"],"payment":{"mode":"sandbox"}}'
    assert stack_settings.parse(text)["allowedRecipients"] == ["é@x.example"]


def test_the_limit_is_the_standard_tiers_and_is_checked_to_the_character() -> None:
    assert stack_settings.MAX_CHARS == limits.SSM_STANDARD_VALUE_MAX_CHARS == 4096
    filler = "a" * (4096 - len(json.dumps({"k": ""}, separators=(",", ":"))))
    assert len(stack_settings.render({"k": filler})) == 4096
    with pytest.raises(stack_settings.SettingsTooLarge, match="4,097 characters"):
        stack_settings.render({"k": filler + "a"})


def test_the_reference_clients_settings_fit_with_room_for_testers() -> None:
    document = stack_settings.initial_settings(demo_spec("preview"))
    used = len(stack_settings.render(document))
    assert used < 1024  # about a hundred 30-character addresses fit beside it


def test_an_unreadable_value_reads_as_an_empty_document() -> None:
    assert stack_settings.parse("not json") == {}
    assert stack_settings.parse("[1, 2]") == {}


# ------------------------------------------------------- who writes which key, e2e


def test_a_deploy_keeps_what_staff_added_and_writes_the_payment_settings(stacks: Path):
    ok(cli(stacks, "email", "allow-list", SLUG, "--add", "qa@vendor.example"))
    ssm = aws.client("ssm")
    document = stack_settings_of("preview")
    document["payment"]["mode"] = "live"  # as if an old or hand-made value
    ssm.put_parameter(
        Name="/demo/preview/settings",
        Value=json.dumps(document),
        Type="String",
        Tier="Standard",
        Overwrite=True,
    )

    ok(cli(stacks, "deploy", f"{SLUG}-preview"))

    after = stack_settings_of("preview")
    assert "qa@vendor.example" in after["allowedRecipients"]
    assert after["payment"]["mode"] == "sandbox"
    parameters = ssm.describe_parameters()["Parameters"]
    tenant = sorted(p["Name"] for p in parameters if p["Name"].startswith(f"/{SLUG}/"))
    assert tenant == ["/demo/preview/settings", "/demo/production/settings"]
    assert {p["Tier"] for p in parameters if p["Name"] in tenant} == {"Standard"}


def test_the_allow_list_never_touches_the_payment_settings(stacks: Path):
    before = stack_settings_of("preview")["payment"]
    ok(cli(stacks, "email", "allow-list", SLUG, "--add", "qa@vendor.example"))
    assert stack_settings_of("preview")["payment"] == before


def test_an_allow_list_over_the_limit_is_refused_and_changes_nothing(stacks: Path):
    before = stack_settings_of("preview")
    many = [arg for n in range(150) for arg in ("--add", f"tester{n:03}@vendor.example")]

    result = cli(stacks, "email", "allow-list", SLUG, *many)

    assert result.exit_code == ExitCode.BAD_INPUT
    assert len(result.output.strip().splitlines()) == 1
    assert "one standard-tier SSM parameter holds at most 4,096" in result.output
    assert stack_settings_of("preview") == before


def test_a_go_live_whose_update_fails_leaves_payment_in_sandbox(
    ready: Path, monkeypatch: pytest.MonkeyPatch
):
    real = LocalDeployer.up

    def failing(self: LocalDeployer, spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        if spec.live:
            raise RuntimeError("injected failure of the go-live update")
        return real(self, spec, *args, **kwargs)

    monkeypatch.setattr(LocalDeployer, "up", failing)
    assert cli(ready, "promote", SLUG, "--yes").exit_code != 0
    assert payment_mode("production") == "sandbox"

    monkeypatch.setattr(LocalDeployer, "up", real)
    ok(cli(ready, "promote", SLUG, "--yes"))
    assert payment_mode("production") == "live"


def test_a_deploy_carries_the_old_allow_list_parameter_over(stacks: Path):
    """Stacks from before the settings parameter kept staff's list in a StringList that the
    moving update deletes: the deploy reads it first and adds it to the new list."""
    aws.client("ssm").put_parameter(
        Name="/demo/preview/email/allowed-recipients",
        Value="pat@demo.example.edu,Old.Tester@Vendor.example",
        Type="StringList",
        Tier="Standard",
    )

    result = ok(cli(stacks, "deploy", f"{SLUG}-preview"))

    assert "old.tester@vendor.example" in stack_settings_of("preview")["allowedRecipients"]
    assert "allow-list addresses carried over" in result.output
    ok(cli(stacks, "deploy", f"{SLUG}-preview"))  # once: the next deploy has nothing to add
