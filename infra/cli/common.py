"""What every command shares: options defined once, and how output is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from infra import PROJECT_DIR
from infra.core import naming, text_rules
from infra.core.steps import NOTICES

F = TypeVar("F", bound=Callable[..., Any])


class _Text(click.ParamType):
    """A free-text option (who, why, a note, a contract reference, an address): the one rule
    every string a user types follows (``infra.core.text_rules.string_problem``), refused
    as typed, never trimmed."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str):
            problem = text_rules.string_problem(value)
            if problem:
                self.fail(f"{text_rules.shorten(value)} {problem}; nothing was changed", param, ctx)
        return value


TEXT = _Text()

DEFAULT_STACKS_DIR = PROJECT_DIR / "stacks"
STACKS_DIR_ENV = naming.STACKS_DIR_ENV


def stacks_dir_option(f: F) -> F:
    return click.option(
        "--stacks-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_STACKS_DIR,
        envvar=STACKS_DIR_ENV,
        show_default="stacks/ of this project",
        help=f"Where the Pulumi.<slug>-<stage>.yaml files live (env {STACKS_DIR_ENV}).",
    )(f)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document for machines."
    )(f)


def from_env_option(f: F) -> F:
    """``--from-env VAR``: credentials from an environment variable instead of stdin."""
    return click.option(
        "--from-env",
        "env_var",
        metavar="VAR",
        help="Read the credentials from this environment variable instead of stdin.",
    )(f)


def yes_option(f: F) -> F:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def echo_json(data: Any) -> None:
    """*data* as indented JSON on stdout, with the operations' notices (``lockTakeovers``:
    a lock taken over from a dead holder) added to a document that is an object."""
    if isinstance(data, dict):
        takeovers = [n["lockTakeover"] for n in NOTICES if "lockTakeover" in n]
        if takeovers:
            data = {**data, "lockTakeovers": takeovers}
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def err(message: str) -> None:
    """Progress and notes go to stderr so stdout stays clean for --json."""
    click.echo(message, err=True)


def break_lock_option(f: F) -> F:
    def reason(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None and value.startswith("-"):
            # `--break-lock --yes` (the old flag form) must not break a lock for "--yes".
            raise click.BadParameter(
                f"needs a REASON, got the option {value!r}; e.g. --break-lock 'CI job "
                "cancelled'; nothing was changed",
                param=param,
            )
        return value

    return click.option(
        "--break-lock",
        type=TEXT,
        callback=reason,
        metavar="REASON",
        help="Take over this client's lock although its holder looks alive (you know it is "
        "not); REASON is recorded. A holder that is provably gone (its lease expired, or its "
        "process on this host no longer exists) is taken over without it.",
    )(f)


def stage_option(help: str, default: naming.Stage = naming.PREVIEW) -> Callable[[F], F]:
    """``--stage preview|production``, given to the command as a ``naming.Stage``."""

    def to_stage(_ctx: click.Context, _param: click.Parameter, value: str) -> naming.Stage:
        return naming.PREVIEW if value == naming.PREVIEW else naming.PRODUCTION

    return click.option(
        "--stage",
        type=click.Choice(naming.STAGES),
        default=default,
        show_default=True,
        callback=to_stage,
        help=help,
    )


def contract_option(help: str) -> Callable[[F], F]:
    """``--contract REF``: which of the client's contracts (rollouts) a command acts on."""
    return click.option("--contract", type=TEXT, help=help)


def signed_off_option(f: F) -> F:
    """``--signed-off YYYY-MM-DD``, given to the command as a ``date`` (or ``None``)."""

    def to_date(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        return value.date() if value is not None else None

    return click.option(
        "--signed-off",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        callback=to_date,
        help="Contract sign-off date, YYYY-MM-DD (default: today).",
    )(f)
