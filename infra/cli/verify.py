"""``tenantctl verify``: the acceptance suite generated from a client's configuration."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, err, json_option, stacks_dir_option, stage_option
from infra.core import naming
from infra.core.errors import ExitCode


@click.command("verify")
@click.argument("slug")
@stage_option("Which stack's served release to verify (production is only read).")
@stacks_dir_option
@json_option
@click.pass_context
def verify(
    ctx: click.Context, slug: str, stage: naming.Stage, stacks_dir: Path, as_json: bool
) -> None:
    """Check in headless Chromium that a client's portal offers what its configuration says.

    Generated from the client's own configuration tables and served release: every lot
    and permit type on sale with its price and currency, every violation type on the
    citation page, every portal page renders (no template error, no missing asset,
    internal links resolve) at desktop and phone widths with no serious or critical
    axe-core finding, and every email renders for its sample data. Never changes the
    stack. Writes an evidence bundle (JUnit XML, HTML report with screenshots, axe
    results, manifest) to verify/<run id>/ in the stack's content bucket and, with a
    control database, records its hash in the rollout history. Exits 3 when a check
    fails.

    \b
    Examples:
      tenantctl verify demo
      tenantctl verify demo --stage production --json
    """
    from infra.ops.rollout.evidence import VerifyHistory
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files
    from infra.ops.verify.run import verify as run_verify

    refuse_stack_names(slug, "verify")
    stack = open_from_files(stacks_dir, slug, stage)
    run = run_verify(stack, err, VerifyHistory())
    if as_json:
        echo_json(run.to_json())
    else:
        counts = run.to_json()["counts"]
        for check in run.failures:
            click.echo(f"FAILED {check.id} ({check.page or check.subject}): {check.detail}")
        click.echo(
            f"{stack.stack_name} release {run.release}: "
            f"{'passed' if run.passed else 'FAILED'} ({counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['not applicable']} not applicable) "
            f"in {run.seconds:.1f}s"
        )
        click.echo(f"run {run.run_id}; evidence {run.bundle} (sha256 {run.bundle_hash})")
        click.echo(run.recorded)
    if not run.passed:
        ctx.exit(ExitCode.PRECONDITION)


COMMANDS = [verify]
