"""``tenantctl verify``: the acceptance suite generated from a client's configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from infra.cli.common import TEXT, echo_json, err, json_option, stacks_dir_option, stage_option
from infra.core import naming
from infra.core.errors import ExitCode

if TYPE_CHECKING:
    from infra.ops.verify.run import VerifyRun
    from infra.ops.verify.show import Evidence

RUN = "run"
"""The subcommand ``tenantctl verify SLUG`` stands for."""


class _VerifyGroup(click.Group):
    """``verify SLUG ...`` is ``verify run SLUG ...``; ``verify show SLUG`` reads a run back.
    (A client whose slug is a subcommand's name is verified with ``verify run SLUG``.)"""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [RUN, *args]
        return super().parse_args(ctx, args)


@click.group("verify", cls=_VerifyGroup)
def verify() -> None:
    """Check in headless Chromium that a client's portal offers what its configuration says.

    `tenantctl verify SLUG` is short for `tenantctl verify run SLUG`; `verify show`
    reads a run's evidence back.

    \b
    Examples:
      tenantctl verify demo
      tenantctl verify demo --release 20261102T101500Z-3f2a1b
      tenantctl verify show demo --open
    """


@verify.command(RUN)
@click.argument("slug")
@stage_option("Which stack to verify (production is only read).")
@click.option(
    "--release",
    type=TEXT,
    metavar="ID",
    help="Verify this content release of the stack (default: the one it serves).",
)
@stacks_dir_option
@json_option
@click.pass_context
def run_cmd(
    ctx: click.Context,
    slug: str,
    stage: naming.Stage,
    release: str | None,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Run the acceptance suite on a stack's served (or given) release.

    Generated from the client's own configuration tables and the release: every lot
    and permit type on sale with its price and currency, every violation type on the
    citation page, every portal page renders (no template error, no missing asset,
    internal links resolve, nothing wider than the viewport) at desktop and phone
    widths with no serious or critical axe-core finding, and every email renders for
    its sample data. Never changes the stack. Writes an evidence bundle (JUnit XML,
    HTML report with screenshots, axe results, manifest) to verify/<run id>/ in the
    stack's content bucket and, with a control database, records its hash in the
    rollout history. Exits 3 when a check fails, 2 when --release names no release.

    \b
    Examples:
      tenantctl verify demo
      tenantctl verify run demo --release 20261102T101500Z-3f2a1b
      tenantctl verify demo --stage production --json
    """
    from infra.ops.rollout.evidence import VerifyHistory
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files
    from infra.ops.verify.run import verify as run_verify

    refuse_stack_names(slug, "verify")
    stack = open_from_files(stacks_dir, slug, stage)
    run = run_verify(stack, err, VerifyHistory(), release)
    if as_json:
        echo_json(run.to_json())
    else:
        _echo_run(stack.stack_name, run)
    if not run.passed:
        ctx.exit(ExitCode.PRECONDITION)


def _counts(counts: dict[str, Any]) -> str:
    return (
        f"{counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['not applicable']} not applicable"
    )


def _echo_run(stack_name: str, run: VerifyRun) -> None:
    for check in run.failures:
        click.echo(f"FAILED {check.id} ({check.page or check.subject}): {check.detail}")
    click.echo(
        f"{stack_name} release {run.release}: {'passed' if run.passed else 'FAILED'} "
        f"({_counts(run.to_json()['counts'])}) in {run.seconds:.1f}s"
    )
    click.echo(f"run {run.run_id}; evidence {run.bundle} (sha256 {run.bundle_hash})")
    click.echo(run.recorded)


@verify.command("show")
@click.argument("slug")
@stage_option("Which stack's runs to read.")
@click.option("--run", "run_id", type=TEXT, metavar="ID", help="The run (default: the latest).")
@click.option(
    "--open",
    "open_report",
    is_flag=True,
    help="Write the run's HTML report (screenshots inlined) to "
    "./verify-<stack>-<run id>.html and print its path.",
)
@stacks_dir_option
@json_option
def show_cmd(
    slug: str,
    stage: naming.Stage,
    run_id: str | None,
    open_report: bool,
    stacks_dir: Path,
    as_json: bool,
) -> None:
    """Print a verify run's manifest and check summary, read from its evidence bundle.

    Names any file of the bundle that no longer matches the manifest. Exits 3 when the
    stack has no run yet, 2 when --run names none.

    \b
    Examples:
      tenantctl verify show demo
      tenantctl verify show demo --run 20261207T020000Z-1a2b3c --json
      tenantctl verify show demo --open    # then open the printed file in a browser
    """
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files
    from infra.ops.verify.show import read_evidence, write_report

    refuse_stack_names(slug, "verify show")
    stack = open_from_files(stacks_dir, slug, stage)
    evidence = read_evidence(stack, run_id)
    written = write_report(evidence, Path.cwd()) if open_report else None
    if as_json:
        echo_json({**evidence.to_json(), "report": str(written) if written else None})
        return
    _echo_evidence(evidence)
    if written is not None:
        click.echo(str(written))


def _echo_evidence(evidence: Evidence) -> None:
    m = evidence.manifest
    click.echo(
        f"{evidence.stack} run {evidence.run_id} at {m.get('startedAt')}: "
        f"{'passed' if m.get('passed') else 'FAILED'} ({_counts(m.get('counts', {}))})"
    )
    click.echo(f"  release {m.get('release')}  tenantctl {m.get('toolVersion')}")
    click.echo(f"  content sha256 {m.get('contentHash')}")
    click.echo(f"  config  sha256 {m.get('configHash')}")
    click.echo(f"  evidence {evidence.bundle} (sha256 {evidence.bundle_hash})")
    for check in evidence.checks:
        if check.status == "failed":
            click.echo(f"  FAILED {check.id}: {check.detail}")
    for name in evidence.tampered:
        click.echo(f"  {name} does not match the manifest: this evidence cannot be trusted")


COMMANDS = [verify]
