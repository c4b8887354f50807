"""``tenantctl drift``: a stack as last deployed against its stack file and program."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option
from infra.core import naming
from infra.core.errors import ChangesDetected


@click.command()
@click.argument("slug")
@click.option(
    "--stage",
    type=click.Choice(naming.STAGES),
    required=True,
    help="Which of the client's stacks to compare.",
)
@stacks_dir_option
@json_option
def drift(slug: str, stage: str, stacks_dir: Path, as_json: bool) -> None:
    """Say, read-only, whether a stack still matches its stack file and program.

    Drifted: never deployed; a stateful resource as last deployed differs in an
    input that forces its replacement from what the program plans now (or is no
    longer planned); or an output the stack file alone decides (names, URLs)
    differs from the output as last deployed. Takes no lock (never blocks a
    deploy or a reset). Exits 0 when it matches, 6 when it drifted (each
    difference named).

    \b
    Examples:
      tenantctl drift demo --stage preview
      tenantctl drift demo --stage production --json | jq .differences
    """
    from infra.ops.planning.drift import drift as compare

    found = compare(stacks_dir, slug, cast(naming.Stage, stage))
    if as_json:
        echo_json(found.to_json())
    elif not found.drifted:
        click.echo(f"{found.stack}: no drift (matches its stack file and program)")
    if found.drifted:
        raise ChangesDetected(
            f"{found.stack} drifted: {'; '.join(found.differences)}; bring it back with "
            f"`tenantctl deploy {found.stack}` (or change the stack file to what is deployed)"
        )


COMMANDS = [drift]
