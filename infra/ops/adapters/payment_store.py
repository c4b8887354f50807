"""The stack's settings parameter, payment settings in it, and credentials (a secret).

The non-secret settings are one JSON SSM parameter per stack
(``infra.core.stack_settings``), created by the Pulumi program and then written only
here, one key at a time (read, change that key, write the whole, the standard tier
named): the payment settings after every deploy and on reset, the allow-list by
``tenantctl email allow-list``. The credentials secret is created (empty) by the
Pulumi program and its value is set only here, from stdin or the environment, so it
never passes through Pulumi config or state.

Credential values are never logged, printed, returned or put into an
exception message; errors name keys and line numbers only. boto3 clients are
passed in (``infra.ops.adapters.aws.client``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from infra.core import naming, stack_settings
from infra.core.errors import PreconditionFailed, TenantctlError
from infra.core.payment_settings import payment_parameters
from infra.core.providers import CREDENTIAL_FIELDS, PROVIDERS
from infra.core.spec import TenantSpec

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

CredentialsMode = Literal["live", "sandbox", "unknown"]

SECRET_KEY = CREDENTIAL_FIELDS[0]
"""The credential every provider needs; the one whose format tells live from sandbox."""


class InvalidCredentials(TenantctlError):
    """Credentials that cannot be stored (format, or wrong mode for the stack)."""


# ------------------------------------------------------------------ parameters


def read_settings(ssm: SSMClient, spec: TenantSpec) -> dict[str, Any] | None:
    """The stack's settings document, or ``None`` when the parameter does not exist yet."""
    try:
        value = ssm.get_parameter(Name=stack_settings.parameter_name(spec))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    return stack_settings.parse(value)


def write_settings(ssm: SSMClient, spec: TenantSpec, document: Mapping[str, Any]) -> None:
    """Overwrite the stack's settings with *document*: checked first (4 KB), standard tier."""
    value = stack_settings.render(document, f"{spec.stack_name}'s settings")
    ssm.put_parameter(
        Name=stack_settings.parameter_name(spec),
        Value=value,
        Type=stack_settings.TYPE,
        Tier=stack_settings.TIER,
        Overwrite=True,
    )


def _existing(ssm: SSMClient, spec: TenantSpec) -> dict[str, Any]:
    document = read_settings(ssm, spec)
    if document is None:
        raise PreconditionFailed(
            f"{spec.stack_name} has no settings parameter yet "
            f"({stack_settings.parameter_name(spec)}); deploy it first "
            f"(`{naming.TOOL} create {spec.slug}` or `pulumi up -s {spec.stack_name}`)"
        )
    return document


def legacy_allow_list(ssm: SSMClient, spec: TenantSpec) -> set[str]:
    """The addresses of a preview's allow-list parameter from before the settings parameter
    (``/<slug>/preview/email/allowed-recipients``, a StringList): the deploy that moves the
    stack to the new design deletes it, so ``deploy_stack`` reads it first and carries it
    over (``carry_allow_list``). Empty when there is none."""
    if spec.stage != naming.PREVIEW:
        return set()
    try:
        value = ssm.get_parameter(Name=f"/{spec.slug}/{spec.stage}/email/allowed-recipients")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return set()
        raise
    listed = value["Parameter"]["Value"].split(",")
    return {a.strip().lower() for a in listed if a.strip()}


def carry_allow_list(ssm: SSMClient, spec: TenantSpec, addresses: set[str]) -> bool:
    """Add *addresses* to the stack's allow-list (kept: nothing is removed); whether it
    changed."""
    document = _existing(ssm, spec)
    current = stack_settings.recipients_of(document)
    if addresses <= current:
        return False
    write_settings(ssm, spec, stack_settings.with_recipients(document, current | addresses))
    return True


def read_parameters(ssm: SSMClient, spec: TenantSpec) -> dict[str, str]:
    """``{name: value}`` of the stack's payment settings; empty when it has none yet."""
    return stack_settings.payment_of(read_settings(ssm, spec) or {})


def write_parameters(ssm: SSMClient, spec: TenantSpec, values: Mapping[str, str]) -> bool:
    """Set the payment settings *values* (known names only), keeping every other key and
    setting; whether anything changed (nothing is written when nothing would)."""
    known = payment_parameters(spec)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PreconditionFailed(
            f"unknown payment parameter(s) {', '.join(unknown)} for {spec.stack_name}; "
            f"known: {', '.join(known)}"
        )
    document = _existing(ssm, spec)
    payment = {**stack_settings.payment_of(document), **values}
    if payment == stack_settings.payment_of(document) and stack_settings.PAYMENT in document:
        return False
    write_settings(ssm, spec, stack_settings.with_payment(document, payment))
    return True


# ----------------------------------------------------------------- credentials


def _env_style(fields: tuple[str, ...]) -> dict[str, str]:
    """``SECRET_KEY=...`` is accepted for ``secretKey=...`` (dotenv files)."""
    return {re.sub(r"(?<!^)([A-Z])", r"_\1", f).upper(): f for f in fields}


_EXPECTED = ", ".join(CREDENTIAL_FIELDS)


def parse_credentials(text: str, fields: tuple[str, ...] = CREDENTIAL_FIELDS) -> dict[str, str]:
    """Credentials from a JSON object, ``KEY=value`` lines, or a bare secret key.

    *fields* are the keys allowed, the first required (payment's ``CREDENTIAL_FIELDS`` by
    default; an integration's vendor has its own, ``integration set-credentials``).

    Keys are ``CREDENTIAL_FIELDS`` (``secretKey``, ``webhookSecret``), or their
    ``SECRET_KEY`` spelling in ``KEY=value`` lines, where blank lines, ``#``
    comments, an ``export`` prefix and surrounding quotes are allowed. A single
    line with no ``=`` is taken as the secret key alone. Unknown keys and an
    empty ``secretKey`` are refused; messages never contain a value (nor an
    unknown key, which may be a pasted secret).
    """
    expected = ", ".join(fields)
    stripped = text.strip()
    if not stripped:
        raise InvalidCredentials(
            f"no credentials given: pass a JSON object with {expected}, or KEY=value lines"
        )
    if stripped.startswith("{"):
        credentials = _from_json(stripped, fields)
    elif "\n" not in stripped and "=" not in stripped:
        credentials = {fields[0]: stripped}
    else:
        credentials = _from_lines(stripped, fields)
    if not credentials.get(fields[0], "").strip():
        raise InvalidCredentials(f"{fields[0]} is missing or empty; it is required")
    return {k: v.strip() for k, v in credentials.items() if v.strip()}


def _from_json(text: str, fields: tuple[str, ...]) -> dict[str, str]:
    expected = ", ".join(fields)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidCredentials(
            f"credentials are not valid JSON (line {exc.lineno}, column {exc.colno}); "
            f"expected an object with {expected}"
        ) from None
    if not isinstance(data, dict):
        raise InvalidCredentials(f"credentials JSON must be an object with {expected}")
    credentials: dict[str, str] = {}
    for position, (key, value) in enumerate(data.items(), start=1):
        if key not in fields:
            raise InvalidCredentials(
                f"credentials JSON key #{position} is not a known key; expected {expected}"
            )
        if not isinstance(value, str):
            raise InvalidCredentials(f"credentials JSON {key} must be a string")
        credentials[key] = value
    return credentials


def _from_lines(text: str, fields: tuple[str, ...]) -> dict[str, str]:
    expected = ", ".join(fields)
    env_style = _env_style(fields)
    credentials: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.removeprefix("export ").partition("=")
        key = env_style.get(key.strip(), key.strip())
        if not equals:
            raise InvalidCredentials(f"credentials line {number} is not KEY=value")
        if key not in fields:
            raise InvalidCredentials(
                f"credentials line {number}: not a known key; expected {expected} "
                f"(or {', '.join(env_style)})"
            )
        if key in credentials:
            raise InvalidCredentials(f"credentials line {number}: {key} is given twice")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        credentials[key] = value
    return credentials


def _key_mode(spec: TenantSpec, secret_key: str) -> CredentialsMode:
    return PROVIDERS[spec.payment.provider].key_mode(secret_key) or "unknown"


def set_credentials(
    secrets: SecretsManagerClient, spec: TenantSpec, credentials: Mapping[str, str]
) -> CredentialsMode:
    """Store *credentials* as the stack's payment secret value; return their mode.

    A preview takes sandbox credentials only; a live production takes live
    ones only; a production not yet live takes either (live credentials are
    staged before go-live). When the provider's key format does not tell, the
    mode is ``"unknown"`` and the credentials are stored. The secret itself is
    created by ``pulumi up``; when it is missing nothing is stored.
    """
    unknown = [k for k in credentials if k not in CREDENTIAL_FIELDS]
    if unknown or not credentials.get(SECRET_KEY):
        raise InvalidCredentials(
            f"credentials must have a non-empty {SECRET_KEY} and only {_EXPECTED}"
        )
    provider = PROVIDERS[spec.payment.provider]
    mode = _key_mode(spec, credentials[SECRET_KEY])
    if mode == "live" and spec.stage == naming.PREVIEW:
        raise InvalidCredentials(
            f"refusing live {provider.title} credentials for {spec.stack_name}: a preview is "
            f"always sandbox; use a test key ({' or '.join(provider.sandbox_key_prefixes)}...)"
        )
    if mode == "sandbox" and spec.stage == naming.PRODUCTION and spec.live:
        raise InvalidCredentials(
            f"refusing sandbox {provider.title} credentials for {spec.stack_name}: it is live; "
            f"use a live key ({' or '.join(provider.live_key_prefixes)}...)"
        )
    name = naming.payment_secret_name(spec.slug, spec.stage)
    ordered = {k: credentials[k] for k in CREDENTIAL_FIELDS if k in credentials}
    put_secret_document(secrets, spec, name, ordered, "payment secret")
    return mode


def put_secret_document(
    secrets: SecretsManagerClient,
    spec: TenantSpec,
    name: str,
    document: Mapping[str, str],
    what: str,
) -> None:
    """Store *document* as JSON in the secret *name* the stack's program created (a
    payment's, an integration's). A missing secret is a precondition (deploy first); an AWS
    refusal is one line naming the secret and the error code, never a value."""
    try:
        secrets.put_secret_value(SecretId=name, SecretString=json.dumps(dict(document)))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise PreconditionFailed(
                f"{what} {name} does not exist yet; deploy the stack first "
                f"(`pulumi up -s {spec.stack_name}` or `{naming.TOOL} create {spec.slug}`)"
            ) from None
        raise PreconditionFailed(
            f"could not store the {what} {name}: {code or 'AWS error'}"
        ) from None


def credentials_mode(secrets: SecretsManagerClient, spec: TenantSpec) -> CredentialsMode | None:
    """``"live"``/``"sandbox"`` as the stored secret key's format says, ``"unknown"``
    when the format does not tell (or the value is unreadable), ``None`` when no
    value is set (or the secret does not exist yet)."""
    name = naming.payment_secret_name(spec.slug, spec.stage)
    try:
        value = secrets.get_secret_value(SecretId=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    try:
        secret_key = json.loads(value.get("SecretString") or "{}").get(SECRET_KEY)
    except (json.JSONDecodeError, AttributeError):
        return "unknown"
    if not isinstance(secret_key, str) or not secret_key:
        return None
    return _key_mode(spec, secret_key)
