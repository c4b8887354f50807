"""``tenantctl changed``: the stacks a commit range affects, as CI matrices in waves."""

from __future__ import annotations

from pathlib import Path

import click

from infra.cli.common import echo_json, json_option
from infra.core import affected as rules


@click.command()
@click.option("--base", required=True, help="The commit to compare with (e.g. origin/main).")
@click.option("--head", default="HEAD", show_default=True, help="The commit to deploy.")
@click.option(
    "--all-if-base-missing",
    is_flag=True,
    help="When --base is not in the repository (a force-push rewrote it), treat every stack "
    'as affected (with a note; "base" is null) instead of failing.',
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default="the working directory",
    help="The git repository of this project.",
)
@click.option(
    "--canaries",
    type=int,
    default=rules.DEFAULT_CANARIES,
    show_default=True,
    help="Stacks per canary wave when a stage has more affected stacks than this (0: none).",
)
@click.option(
    "--chunk-size",
    type=int,
    default=rules.MATRIX_LIMIT,
    show_default=True,
    help=f"Jobs per matrix (GitHub runs at most {rules.MATRIX_LIMIT}).",
)
@json_option
def changed(
    base: str,
    head: str,
    all_if_base_missing: bool,
    repo: Path,
    canaries: int,
    chunk_size: int,
    as_json: bool,
) -> None:
    """List the stacks a commit range affects, in deploy waves (for CI).

    A change to the program, templates, policy pack, Pulumi.yaml,
    pyproject.toml or stacks/platform-outputs.yaml affects every stack; a stack
    file its stack; a tenant file (any other stacks/*.yaml) both stages of the
    client it names. Renames count
    on both sides; a deleted stack file is listed as removed, never deployed.
    With --json: {"matrix": {"include": [{"stack","slug","stage"}]}, "waves":
    [...], "slots": {...}} -- previews before productions, canaries first,
    matrices of at most 256 jobs.

    \b
    Examples:
      tenantctl changed --base origin/main
      tenantctl changed --base "$BEFORE" --head "$AFTER" --json | jq -c .matrix
      tenantctl changed --base "$BEFORE" --all-if-base-missing --json   # after a force-push
    """
    from infra.ops.planning.changes import affected

    base_sha, head_sha, found = affected(
        repo, base, head, every_stack_if_base_missing=all_if_base_missing
    )
    waves = rules.plan_waves(found.stacks, canaries=canaries, chunk_size=chunk_size)
    if as_json:
        echo_json(
            {
                "base": base_sha,
                "head": head_sha,
                "everyStack": found.every_stack,
                "count": len(found.stacks),
                "matrix": rules.matrix(found.stacks),
                "reasons": found.reasons,
                "removed": found.removed,
                "notes": found.notes,
                "waves": [wave.to_json() for wave in waves],
                "slots": rules.slots(waves),
            }
        )
        return
    for note in found.notes:
        click.echo(f"note: {note}", err=True)
    if not found.stacks:
        click.echo("no stack affected")
    for wave in waves:
        click.echo(f"{wave.name} ({len(wave.stacks)}):")
        for ref in wave.stacks:
            click.echo(f"  {ref.stack}  <- {'; '.join(found.reasons[ref.stack])}")
    for name in found.removed:
        click.echo(f"removed (stack file deleted; destroy it by hand if intended): {name}")


COMMANDS = [changed]
