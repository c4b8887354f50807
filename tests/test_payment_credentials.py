"""Payment credentials and settings against the moto server: stored, refused, never echoed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from infra.cli import main
from infra.core import naming, stack_settings
from infra.core.errors import ExitCode, PreconditionFailed
from infra.core.payment_settings import payment_parameters
from infra.ops.adapters import aws
from infra.ops.adapters import payment_store as payment
from infra.ops.stacks import stackfiles
from tests.helpers import demo_spec

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

REGION = "us-east-1"
SANDBOX_KEY = "sk_test_51DemoSandboxKeyDoNotUse0000"
LIVE_KEY = "sk_live_51DemoLiveKeyDoNotUse00000000"
WEBHOOK = "whsec_DemoWebhookSecret0000"


@pytest.fixture
def secrets(aws_env: str) -> SecretsManagerClient:
    """The payment secrets as ``pulumi up`` leaves them: created, with no value."""
    client = aws.client("secretsmanager", REGION)
    for stage in naming.STAGES:
        client.create_secret(Name=naming.payment_secret_name("demo", stage))
    return client


def set_credentials(stack_files: Path, stage: str, stdin: str, *extra: str) -> Result:
    return CliRunner().invoke(
        main,
        [
            "payment",
            "set-credentials",
            "demo",
            "--stage",
            stage,
            "--stacks-dir",
            str(stack_files),
            *extra,
        ],
        input=stdin,
    )


def stored(secrets: SecretsManagerClient, stage: naming.Stage) -> dict[str, str]:
    value = secrets.get_secret_value(SecretId=naming.payment_secret_name("demo", stage))
    document: dict[str, str] = json.loads(value["SecretString"])
    return document


def test_stdin_json_credentials_are_stored(
    stack_files: Path, secrets: SecretsManagerClient
) -> None:
    document = json.dumps({"secretKey": SANDBOX_KEY, "webhookSecret": WEBHOOK})

    result = set_credentials(stack_files, "preview", document)

    assert result.exit_code == 0, result.output
    assert stored(secrets, "preview") == {"secretKey": SANDBOX_KEY, "webhookSecret": WEBHOOK}
    assert "demo-preview: sandbox credentials stored" in result.stdout
    assert SANDBOX_KEY not in result.output
    assert payment.credentials_mode(secrets, demo_spec("preview")) == "sandbox"


def test_key_value_lines_are_stored_and_json_output_has_no_value(
    stack_files: Path, secrets: SecretsManagerClient
) -> None:
    lines = f"# staged for go-live\nSECRET_KEY={LIVE_KEY}\nwebhookSecret='{WEBHOOK}'\n"

    result = set_credentials(stack_files, "production", lines, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "stack": "demo-production",
        "secret": naming.payment_secret_name("demo", "production"),
        "mode": "live",
        "stored": True,
    }
    assert LIVE_KEY not in result.output
    assert stored(secrets, "production")["secretKey"] == LIVE_KEY


def test_live_key_is_refused_for_preview_and_not_echoed(
    stack_files: Path, secrets: SecretsManagerClient
) -> None:
    result = set_credentials(stack_files, "preview", json.dumps({"secretKey": LIVE_KEY}))

    assert result.exit_code != 0
    assert "refusing live Stripe credentials for demo-preview" in result.stderr
    assert LIVE_KEY not in result.output
    assert LIVE_KEY[8:] not in result.output
    assert payment.credentials_mode(secrets, demo_spec("preview")) is None


def test_sandbox_key_is_refused_for_a_live_production(
    stack_files: Path, secrets: SecretsManagerClient
) -> None:
    stackfiles.set_live(stack_files, "demo", True)

    result = set_credentials(stack_files, "production", f"secretKey={SANDBOX_KEY}\n")

    assert result.exit_code != 0
    assert "refusing sandbox Stripe credentials for demo-production: it is live" in result.stderr
    assert SANDBOX_KEY not in result.output


def test_missing_secret_says_to_deploy_first(stack_files: Path, aws_env: str) -> None:
    result = set_credentials(stack_files, "preview", json.dumps({"secretKey": SANDBOX_KEY}))

    assert result.exit_code == ExitCode.PRECONDITION
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Error:")]
    assert "does not exist yet; deploy the stack first" in line
    assert "pulumi up -s demo-preview" in line
    assert SANDBOX_KEY not in result.output


def test_env_var_path_works(
    stack_files: Path, secrets: SecretsManagerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_STRIPE_KEY", SANDBOX_KEY)

    result = set_credentials(stack_files, "preview", "", "--from-env", "DEMO_STRIPE_KEY")

    assert result.exit_code == 0, result.output
    assert stored(secrets, "preview") == {"secretKey": SANDBOX_KEY}


def test_unset_env_var_is_a_clear_error(stack_files: Path, secrets: SecretsManagerClient) -> None:
    result = set_credentials(stack_files, "preview", "", "--from-env", "NOT_SET_ANYWHERE")

    assert result.exit_code == 2
    assert "environment variable NOT_SET_ANYWHERE is not set" in result.stderr


def test_unknown_key_is_refused_without_echoing_it(
    stack_files: Path, secrets: SecretsManagerClient
) -> None:
    result = set_credentials(stack_files, "preview", f"secretKey={SANDBOX_KEY}\n{LIVE_KEY}=x\n")

    assert result.exit_code == 2
    assert "credentials line 2: not a known key" in result.stderr
    assert LIVE_KEY not in result.output
    assert SANDBOX_KEY not in result.output


def test_bad_credential_error_does_not_contain_the_value() -> None:
    secret = "sk_live_ThisMustNeverAppear000"
    for text in (
        json.dumps({"secretKey": secret, "apiKey": secret}),
        json.dumps({"secretKey": ["not", secret]}),
        f'{{"secretKey": "{secret}",',
        f"secretKey={secret}\nsecretKey={secret}\n",
        f"webhookSecret={secret}\n",
        f"{secret}\nmore",
    ):
        with pytest.raises(payment.InvalidCredentials) as caught:
            payment.parse_credentials(text)
        assert secret not in str(caught.value)
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_parse_credentials_formats() -> None:
    expected = {"secretKey": SANDBOX_KEY, "webhookSecret": WEBHOOK}
    assert payment.parse_credentials(json.dumps(expected)) == expected
    assert (
        payment.parse_credentials(f'export SECRET_KEY="{SANDBOX_KEY}"\nWEBHOOK_SECRET={WEBHOOK}')
        == expected
    )
    assert payment.parse_credentials(f"  {SANDBOX_KEY}\n") == {"secretKey": SANDBOX_KEY}
    with pytest.raises(payment.InvalidCredentials, match="secretKey is missing or empty"):
        payment.parse_credentials(json.dumps({"secretKey": "  "}))


def test_production_not_yet_live_accepts_both_modes(secrets: SecretsManagerClient) -> None:
    spec = demo_spec("production")
    assert payment.set_credentials(secrets, spec, {"secretKey": SANDBOX_KEY}) == "sandbox"
    assert payment.set_credentials(secrets, spec, {"secretKey": LIVE_KEY}) == "live"
    assert payment.credentials_mode(secrets, spec) == "live"


def test_credentials_mode_is_unknown_when_the_format_does_not_tell(
    secrets: SecretsManagerClient,
) -> None:
    data = {
        **demo_spec("preview").model_dump(),
        "payment": {"provider": "square", "merchant_id": "MLEFBHHSJGVHD"},
    }
    spec = type(demo_spec("preview")).model_validate(data)
    assert payment.credentials_mode(secrets, spec) is None
    assert payment.set_credentials(secrets, spec, {"secretKey": "EAAAl-opaque-token"}) == "unknown"
    assert payment.credentials_mode(secrets, spec) == "unknown"


def test_payment_parameters_round_trip_and_keep_the_allow_list(aws_env: str) -> None:
    ssm = aws.client("ssm", REGION)
    spec = demo_spec("preview")
    with pytest.raises(PreconditionFailed, match=r"no settings parameter yet.*deploy it first"):
        payment.write_parameters(ssm, spec, {"mode": "sandbox"})
    seeded = {**stack_settings.initial_settings(spec), "allowedRecipients": ["qa@vendor.example"]}
    payment.write_settings(ssm, spec, seeded)  # as the program and then staff left it
    values = payment_parameters(spec)

    assert payment.write_parameters(ssm, spec, {**values, "mode": "live"}) is True
    assert payment.write_parameters(ssm, spec, {"mode": "sandbox"}) is True
    assert payment.write_parameters(ssm, spec, {"mode": "sandbox"}) is False  # nothing written

    assert payment.read_parameters(ssm, spec) == values
    assert payment.read_parameters(ssm, demo_spec("production")) == {}
    stored = ssm.get_parameter(Name="/demo/preview/settings")["Parameter"]
    assert json.loads(stored["Value"])["allowedRecipients"] == ["qa@vendor.example"]
    assert stored["Type"] == "String"
    with pytest.raises(PreconditionFailed, match="unknown payment parameter"):
        payment.write_parameters(ssm, spec, {"api-key": "x"})


def test_settings_over_the_standard_tier_limit_are_refused_before_any_write(
    aws_env: str,
) -> None:
    ssm = aws.client("ssm", REGION)
    spec = demo_spec("preview")
    payment.write_settings(ssm, spec, stack_settings.initial_settings(spec))
    before = ssm.get_parameter(Name="/demo/preview/settings")["Parameter"]
    too_many = [f"tester{n:04}@vendor.example" for n in range(200)]

    with pytest.raises(stack_settings.SettingsTooLarge) as refused:
        payment.write_settings(
            ssm,
            spec,
            stack_settings.with_recipients(stack_settings.initial_settings(spec), too_many),
        )

    assert refused.value.exit_code == ExitCode.BAD_INPUT
    assert "one standard-tier SSM parameter holds at most 4,096" in str(refused.value)
    after = ssm.get_parameter(Name="/demo/preview/settings")["Parameter"]
    assert after["Version"] == before["Version"] and after["Value"] == before["Value"]
