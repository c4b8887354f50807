"""``tenantctl``: create, plan, reset, promote and inspect client stacks.

The CLI is a thin layer: each command parses its options, calls one library
function in ``infra`` and renders the result for people or, with ``--json``,
for machines. Known errors become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from infra import PROJECT_DIR
from infra.core.errors import TenantctlError
from infra.core.spec import SpecError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_STACKS_DIR = PROJECT_DIR / "stacks"
STACKS_DIR_ENV = "TENANTCTL_STACKS_DIR"


class TenantctlGroup(click.Group):
    """Turns the errors a user can cause into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (TenantctlError, SpecError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            click.echo(f"Error: {message}", err=True)
            ctx.exit(getattr(exc, "exit_code", 2))


@click.group(cls=TenantctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tenantctl")
def main() -> None:
    """Provision and operate each client's preview and production stacks.

    \b
    Typical rollout for a client "demo":
      tenantctl create demo --from demo.yaml   # phase 1: both stacks
      tenantctl plan demo                      # what the stacks contain
      tenantctl reset-preview demo --yes       # phase 3-4, as often as wanted
      tenantctl promote demo --dry-run         # phase 4: what launch would change
      tenantctl promote demo                   # phase 5: go live
      tenantctl status demo --json             # for CI
    """


# ------------------------------------------------------------------ shared options


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


def yes_option(f: F) -> F:
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(f)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def err(message: str) -> None:
    """Progress and notes go to stderr so stdout stays clean for --json."""
    click.echo(message, err=True)


# Command modules register themselves on ``main`` when imported.
for _module in ("plan", "provision", "operate"):
    importlib.import_module(f"infra.cli.{_module}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
