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
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from infra.core import email_settings, naming, placeholders, stack_settings
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.steps import Progress, quiet
from infra.core.text_rules import email_problem
from infra.ops.adapters import aws
from infra.ops.adapters.payment_store import read_settings, write_settings
from infra.ops.stacks.handle import PreviewStack, StackHandle
from infra.ops.stacks.locking import client_lock, preview_place


def allow_list(stack: StackHandle) -> list[str]:
    """The extra addresses preview may email (empty in production or when unset)."""
    if stack.spec.stage != naming.PREVIEW:
        return []
    return sorted(stack_settings.recipients_of(read_settings(stack.ssm, stack.spec) or {}))


@dataclass(frozen=True)
class AllowList:
    """Preview's extra email recipients, after a change (``added``/``removed``) or a read."""

    stack: str
    parameter: str
    addresses: list[str]
    """The extra addresses: what the list holds besides the administrators."""
    added: list[str]
    removed: list[str]
    administrators: list[str]
    """Always allowed, whatever the list says (from the stack's ``admins``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "parameter": self.parameter,
            "addresses": self.addresses,
            "added": self.added,
            "removed": self.removed,
            "administrators": self.administrators,
        }


def change_allow_list(
    stack: PreviewStack,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    progress: Progress = quiet,
) -> AllowList:
    """Add and remove addresses on preview's allow-list (no change: a read, no lock).

    Addresses are checked and compared lower-cased. The parameter is created by
    ``pulumi up`` (which then leaves its value to this command); a stack not
    deployed yet has none, and nothing is written.
    """
    if not isinstance(stack, PreviewStack):  # the type says so; this keeps it true at runtime
        raise PreconditionFailed("only a preview has an allow-list; production emails anyone")
    wanted = sorted({a.strip().lower() for a in add})
    unwanted = sorted({a.strip().lower() for a in remove})
    problems = [f"{a!r} {p}" for a in wanted + unwanted if (p := email_problem(a))]
    if problems:
        raise UserInputError("; ".join(problems))
    spec = stack.spec
    name = stack_settings.parameter_name(spec)
    admins = list(email_settings.admin_addresses(spec))
    if not wanted and not unwanted:
        listed = sorted(stack_settings.recipients_of(_read_settings(stack)) - set(admins))
        return AllowList(spec.stack_name, name, listed, [], [], admins)
    with client_lock(spec.slug, "email allow-list", preview_place(stack)):
        document = _read_settings(stack)  # under the lock: a deploy or reset writes it too
        current = stack_settings.recipients_of(document)
        new = (current | set(wanted)) - set(unwanted)
        if new != current:
            # An emptied list keeps the administrators, who are allowed whatever it says:
            # the application reads one list.
            if not (new or admins):
                raise UserInputError(f"{spec.stack_name} has no administrators to keep on the list")
            # Checked (4 KB, the whole document) before anything is written.
            write_settings(
                stack.ssm,
                spec,
                stack_settings.with_recipients(document, new or admins),
            )
            new = new or set(admins)
    added, removed = sorted(new - current), sorted(current - new)
    progress(f"  {spec.stack_name}: {len(added)} added, {len(removed)} removed ({len(new)} now)")
    return AllowList(spec.stack_name, name, sorted(new - set(admins)), added, removed, admins)


def _read_settings(stack: StackHandle) -> dict[str, Any]:
    document = read_settings(stack.ssm, stack.spec)
    if document is None:
        name = stack_settings.parameter_name(stack.spec)
        raise PreconditionFailed(
            f"{stack.stack_name} has no allow-list yet ({name}); deploy it first "
            f"(`tenantctl create {stack.spec.slug}` or `pulumi up -s {stack.stack_name}`)"
        )
    return document


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


@dataclass(frozen=True)
class TestEmailSent:
    """``tenantctl email test``: one sample email handed to SES."""

    __test__ = False  # not a pytest class, whatever its name

    stack: str
    template: str
    to: str
    sender: str
    subject: str
    message_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "template": self.template,
            "to": self.to,
            "from": self.sender,
            "subject": self.subject,
            "messageId": self.message_id,
        }


def send_test(stack: StackHandle, template: str, to: str) -> TestEmailSent:
    """Send *template* with sample data to *to*; refused for the public from preview."""
    spec = stack.spec
    if not email_settings.recipient_allowed(spec, to, allow_list(stack)):
        raise PreconditionFailed(
            f"{spec.stack_name} never emails the public: {to} is neither an administrator nor "
            f"on the allow-list (allowedRecipients of {stack_settings.parameter_name(spec)} in SSM)"
        )
    message = render_test_email(stack, template, to)
    sesv2 = aws.client("sesv2", stack.region)
    response = sesv2.send_email(
        FromEmailAddress=str(message["From"]),
        Destination={"ToAddresses": [to]},
        Content={"Raw": {"Data": message.as_bytes()}},
        ConfigurationSetName=email_settings.configuration_set_name(spec),
    )
    return TestEmailSent(
        spec.stack_name,
        template,
        to,
        str(message["From"]),
        str(message["Subject"]),
        response["MessageId"],
    )
