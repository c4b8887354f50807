"""tenantctl email test on the local target: sent through the emulator's SES and read back
from moto's model data (/moto-api/data.json)."""

from __future__ import annotations

import json
import urllib.request
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

from infra.core import email_settings
from infra.core.errors import ExitCode
from tests.helpers import SLUG, cli, demo_spec, ok, stack_settings_of, validate

ADMIN = "pat.lee@demo-state.example.edu"


def sent(endpoint: str) -> list[EmailMessage]:
    """Every raw message moto's SES accepted, parsed."""
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        data = json.load(response)
    raw = data.get("ses", {}).get("RawMessage", [])
    return [message_from_string(m["raw_data"], policy=policy.default) for m in raw]


def test_email_test_sends_both_bodies_from_the_stack_domain(stacks: Path, aws_env: str):
    result = ok(cli(stacks, "email", "test", SLUG, "permit-confirmation", "--to", ADMIN, "--json"))

    report = validate("email-test", json.loads(result.stdout))
    [message] = sent(aws_env)
    spec = demo_spec("preview")
    assert message["To"] == ADMIN
    assert message["From"].addresses[0].domain == email_settings.sending_domain(spec)
    assert message["Subject"] == report["subject"]
    assert message["Subject"].startswith("[Preview] Your Demo State University parking permit P-")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "P-2026-001234" in text and "P-2026-001234" in html
    assert "${" not in text + html + message["Subject"]
    assert html.lstrip().lower().startswith("<!doctype html")


def test_preview_refuses_to_email_the_public(stacks: Path, aws_env: str):
    result = cli(stacks, "email", "test", SLUG, "welcome", "--to", "someone@public.example")

    assert result.exit_code == ExitCode.PRECONDITION
    assert "never emails the public" in result.output
    assert sent(aws_env) == []


def test_staff_can_allow_an_address_for_preview(stacks: Path, aws_env: str):
    added = ok(cli(stacks, "email", "allow-list", SLUG, "--add", "QA@Vendor.example", "--json"))

    report = validate("email-allow-list", json.loads(added.stdout))
    assert report["added"] == ["qa@vendor.example"] and "qa@vendor.example" in report["addresses"]
    assert ADMIN in report["administrators"]
    ok(cli(stacks, "email", "test", SLUG, "welcome", "--to", "qa@vendor.example"))
    assert [m["To"] for m in sent(aws_env)] == ["qa@vendor.example"]

    removed = ok(cli(stacks, "email", "allow-list", SLUG, "--remove", "qa@vendor.example"))
    assert "removed: qa@vendor.example" in removed.output
    refused = cli(stacks, "email", "test", SLUG, "welcome", "--to", "qa@vendor.example")
    assert refused.exit_code == ExitCode.PRECONDITION
    assert "qa@vendor.example" not in stack_settings_of("preview")["allowedRecipients"]


def test_the_allow_list_refuses_what_is_not_an_address_and_changes_nothing(
    stacks: Path, aws_env: str
):
    before = ok(cli(stacks, "email", "allow-list", SLUG, "--json")).stdout

    result = cli(stacks, "email", "allow-list", SLUG, "--add", "ok@vendor.example", "--add", "x")

    assert result.exit_code == ExitCode.BAD_INPUT
    assert len(result.output.strip().splitlines()) == 1 and "'x'" in result.output
    assert ok(cli(stacks, "email", "allow-list", SLUG, "--json")).stdout == before


def test_the_allow_list_is_preview_only(stacks: Path, aws_env: str):
    result = cli(stacks, "email", "allow-list", f"{SLUG}-production", "--add", "a@b.example")

    assert result.exit_code == ExitCode.BAD_INPUT
    assert "never touches production" in result.output


def test_emptying_the_allow_list_keeps_the_administrators(stacks: Path, aws_env: str):
    added = json.loads(
        ok(cli(stacks, "email", "allow-list", SLUG, "--add", "qa@vendor.example", "--json")).stdout
    )
    everyone = ["qa@vendor.example", *added["administrators"]]
    removals = [arg for address in everyone for arg in ("--remove", address)]

    emptied = json.loads(ok(cli(stacks, "email", "allow-list", SLUG, *removals, "--json")).stdout)

    assert emptied["addresses"] == [] and "qa@vendor.example" in emptied["removed"]
    assert emptied["parameter"] == "/demo/preview/settings"
    # The application reads one list: the administrators stay on it.
    assert stack_settings_of("preview")["allowedRecipients"] == emptied["administrators"]
    again = json.loads(ok(cli(stacks, "email", "allow-list", SLUG, "--json")).stdout)
    assert again["addresses"] == []
