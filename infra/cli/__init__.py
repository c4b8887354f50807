"""``tenantctl``: create, plan, reset, promote and inspect client stacks.

The CLI is a thin layer: each command parses its options, calls one library
function in ``infra`` and renders the result for people or, with ``--json``,
for machines. Known errors become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from infra.cli.lazy import LazyGroup
from infra.core.errors import ExitCode, TenantctlError, UserInputError
from infra.core.spec_errors import SpecError
from infra.core.steps import NOTICES
from infra.core.text_rules import ECHO_LENGTH, printable

_TEMPORAL_CORE = "temporalio.bridge.temporal_sdk_bridge"


class TenantctlGroup(LazyGroup):
    """The error boundary: every failure ends as one line and a documented exit code.

    Errors a user or the environment can cause carry their own exit code
    (``infra.core.errors.ExitCode``); library errors are translated by
    ``infra.ops.adapters.faults``; anything else is a bug, logged to a file whose path
    the one line names. No traceback reaches the terminal.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if args or "args" in kwargs:  # called as a library (CliRunner): exit as asked
            return super().main(*args, **kwargs)
        try:
            return super().main(*args, **kwargs)
        except SystemExit as done:
            # Temporal's core (fleet commands) keeps threads that may call into Python
            # while it finalizes, which aborts the process (temporalio/sdk-python#300):
            # once the command is done, skip the finalization.
            if _TEMPORAL_CORE in sys.modules and isinstance(done.code, int | None):
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(done.code or 0)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        NOTICES.clear()  # a command's --json reports only what this command did
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if exc.option_name.startswith("-") and not exc.option_name.startswith("--"):
                _fail(
                    ctx,
                    UserInputError(
                        f"{exc.option_name!r} is not an option of this command, and no client "
                        "slug starts with '-' (slugs start with a lowercase letter); see --help"
                    ),
                    ExitCode.BAD_INPUT,
                )
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (TenantctlError, SpecError) as exc:
            _fail(ctx, exc, getattr(exc, "exit_code", ExitCode.BAD_INPUT))
        except KeyboardInterrupt:
            click.echo("Interrupted: re-run the same command to resume.", err=True)
            ctx.exit(ExitCode.INTERRUPTED)
        except Exception as exc:
            from infra.ops.adapters.faults import log_unexpected, translate

            known = translate(exc)
            if known is not None:
                _fail(ctx, known, known.exit_code)
            log = log_unexpected(exc)
            where = f"details in {log}" if log else "no log could be written"
            click.echo(
                f"Error: unexpected {type(exc).__name__} (a bug in tenantctl; {where}); "
                "please report it",
                err=True,
            )
            ctx.exit(ExitCode.INTERNAL)


def _fail(ctx: click.Context, exc: Exception, code: int) -> None:
    """Print *exc* safely: printable, long runs shortened; a ``SpecError`` one problem a line."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, SpecError):
        lines = [_safe(line) for line in text.splitlines()]
    else:
        lines = [_safe(text)]  # a newline in a value must not cut the reason off
    click.echo("Error: " + "\n".join(lines), err=True)
    ctx.exit(int(code))


_LONG_RUN = re.compile(rf"\S{{{ECHO_LENGTH * 2},}}")


def _safe(line: str) -> str:
    """One printable line; a run of more than a few dozen characters without a space shortened."""
    line = printable(line)
    return _LONG_RUN.sub(lambda m: m.group()[:ECHO_LENGTH] + "…", line)


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


COMMANDS = {
    "create": "infra.cli.create:create",
    "payment": "infra.cli.payment:payment",
    "plan": "infra.cli.plan:plan",
    "drift": "infra.cli.drift:drift",
    "reset-preview": "infra.cli.reset:reset_preview",
    "preview": "infra.cli.preview:preview",
    "promote": "infra.cli.promote:promote",
    "status": "infra.cli.status:status",
    "list": "infra.cli.status:list_",
    "content": "infra.cli.content:content",
    "import": "infra.cli.imports:import_",
    "email": "infra.cli.email:email",
    "rollout": "infra.cli.rollout:rollout",
    "billing": "infra.cli.billing:billing",
    "changed": "infra.cli.changed:changed",
    "deploy": "infra.cli.deploy:deploy",
    "capacity": "infra.cli.capacity:capacity",
    "cost": "infra.cli.cost:cost",
    "preflight": "infra.cli.preflight:preflight",
    "domain": "infra.cli.domain:domain",
    "fleet": "infra.cli.fleet:fleet",
    "verify": "infra.cli.verify:verify",
    "integration": "infra.cli.integration:integration",
}
"""Every command, registered explicitly: name -> "module:attr" (the module's ``COMMANDS``).
A module is imported only when its command is used (or for ``--help``)."""

main.add_lazy_commands(COMMANDS)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
