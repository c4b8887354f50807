"""``tenantctl email test``: render one of the tenant's emails with sample data and send it.

The email is rendered from the release the stack serves (subject from
``email/subjects.json``, both bodies), filled with the sample values of
``infra.core.placeholders`` and sent as multipart/alternative through the
stack's SES identity and configuration set. Preview only sends to its
administrators and its allow-list (``infra.core.email_settings``).
"""

from __future__ import annotations

import html
import json
from email.message import EmailMessage
from typing import Any

from botocore.exceptions import ClientError

from infra.core import email_settings, placeholders
from infra.core.errors import PreconditionFailed, UserInputError
from infra.ops import aws
from infra.ops.stack import StackHandle


def allow_list(stack: StackHandle) -> list[str]:
    """The extra addresses preview may email (empty in production or when unset)."""
    try:
        value = stack.ssm.get_parameter(Name=email_settings.allow_list_parameter(stack.spec))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return []
        raise
    return [a for a in value["Parameter"]["Value"].split(",") if a.strip()]


def _fill_html(text: str, values: dict[str, str]) -> str:
    escaped = {
        k: (v if k in placeholders.FRAGMENTS else html.escape(v, quote=True))
        for k, v in values.items()
    }
    return placeholders.fill(text, escaped)


def render_test_email(stack: StackHandle, template: str, to: str) -> EmailMessage:
    if template not in placeholders.EMAILS:
        raise UserInputError(
            f"unknown email {template!r}; one of: {', '.join(placeholders.EMAILS)}"
        )
    current = stack.content.current()
    if current is None:
        raise PreconditionFailed(f"{stack.stack_name} serves no release yet")
    subjects = json.loads(stack.content.read(current.release, placeholders.SUBJECTS_FILE))
    body_html = stack.content.read(current.release, f"email/{template}.html").decode("utf-8")
    body_text = stack.content.read(current.release, f"email/{template}.txt").decode("utf-8")
    values = {**placeholders.SAMPLE_VALUES, "account_email": to}
    message = EmailMessage()
    message["Subject"] = placeholders.fill(subjects[template], values)
    message["From"] = email_settings.from_address(stack.spec)
    message["To"] = to
    message.set_content(placeholders.fill(body_text, values))
    message.add_alternative(_fill_html(body_html, values), subtype="html")
    return message


def send_test(stack: StackHandle, template: str, to: str) -> dict[str, Any]:
    """Send *template* with sample data to *to*; refused for the public from preview."""
    spec = stack.spec
    if not email_settings.recipient_allowed(spec, to, allow_list(stack)):
        raise PreconditionFailed(
            f"{spec.stack_name} never emails the public: {to} is neither an administrator nor "
            f"on the allow-list ({email_settings.allow_list_parameter(spec)} in SSM)"
        )
    message = render_test_email(stack, template, to)
    sesv2 = aws.client("sesv2", stack.region)
    response = sesv2.send_email(
        FromEmailAddress=str(message["From"]),
        Destination={"ToAddresses": [to]},
        Content={"Raw": {"Data": message.as_bytes()}},
        ConfigurationSetName=email_settings.configuration_set_name(spec),
    )
    return {
        "stack": spec.stack_name,
        "template": template,
        "to": to,
        "from": str(message["From"]),
        "subject": str(message["Subject"]),
        "messageId": response["MessageId"],
    }
