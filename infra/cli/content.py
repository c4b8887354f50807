"""``tenantctl content``: pull, diff, push, rollback and preview the portal's content."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from infra.cli.common import echo_json, err, json_option, stacks_dir_option, stage_option
from infra.core import naming
from infra.core.errors import ExitCode

if TYPE_CHECKING:  # the checks import jinja2: only when a command runs
    from infra.core.content_checks import Problem
    from infra.core.content_model import ContentDiff

folder_argument = click.argument("folder", type=click.Path(file_okay=False, path_type=Path))


@click.group()
def content() -> None:
    """Edit a client's portal pages, emails and messages (phase 3), checked, in preview.

    \b
    Examples:
      tenantctl content pull demo ./demo-content
      tenantctl content diff demo ./demo-content
      tenantctl content push demo ./demo-content --dry-run
      tenantctl content push demo ./demo-content
      tenantctl content rollback demo
      tenantctl content preview demo --dir ./demo-content
    """


@content.command()
@click.argument("slug")
@folder_argument
@stage_option("Which stack's served release to pull.")
@stacks_dir_option
@json_option
def pull(slug: str, folder: Path, stage: naming.Stage, stacks_dir: Path, as_json: bool) -> None:
    """Write the release a stack serves to FOLDER (new or empty), one file per content key.

    \b
    Examples:
      tenantctl content pull demo ./demo-content
      tenantctl content pull demo ./live-content --stage production --json
    """
    from infra.ops.content.edit import pull as run_pull
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files

    if stage == naming.PREVIEW:
        refuse_stack_names(slug, "content pull")
    stack = open_from_files(stacks_dir, slug, stage)
    result = run_pull(stack, folder, err)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"{result.files} files of {result.release} in {folder}")


def _print_diff(title: str, changes: ContentDiff) -> None:
    lines = [f"  + {k}" for k in changes.added] + [f"  ~ {k}" for k in changes.changed]
    lines += [f"  - {k}" for k in changes.removed]
    click.echo(f"{title}: " + ("no changes" if not lines else f"{len(lines)} file(s)"))
    for line in lines:
        click.echo(line)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


@content.command()
@click.argument("slug")
@folder_argument
@stacks_dir_option
@json_option
def diff(slug: str, folder: Path, stacks_dir: Path, as_json: bool) -> None:
    """Show what pushing FOLDER would change, against preview's release and the defaults.

    Also lists every problem a push would refuse (exit 0 either way: a diff is a read).

    \b
    Examples:
      tenantctl content diff demo ./demo-content
      tenantctl content diff demo ./demo-content --json
    """
    from infra.ops.content.edit import diff as run_diff
    from infra.ops.stacks.opening import open_preview

    result = run_diff(open_preview(stacks_dir, slug, "content diff"), folder)
    if as_json:
        echo_json(result.to_json())
        return
    _print_diff(f"against {result.release}", result.against_current)
    _print_diff("against defaults", result.against_defaults)
    _print_problems(result.problems)
    if result.problems:
        click.echo(f"{len(result.problems)} problem(s): a push would be refused", err=True)


@content.command()
@click.argument("slug")
@folder_argument
@click.option("--dry-run", is_flag=True, help="Check and show the changes; publish nothing.")
@stacks_dir_option
@json_option
@click.pass_context
def push(
    ctx: click.Context, slug: str, folder: Path, dry_run: bool, stacks_dir: Path, as_json: bool
) -> None:
    """Check FOLDER and publish it as preview's new release (the previous one kept for rollback).

    Every problem is listed, one per line with file and line; nothing is
    published while there is any (exit 2). Only ever acts on <slug>-preview:
    production content changes through `tenantctl promote`.

    \b
    Examples:
      tenantctl content push demo ./demo-content --dry-run
      tenantctl content push demo ./demo-content --json
    """
    from infra.ops.content.edit import ContentRejected
    from infra.ops.content.edit import push as run_push
    from infra.ops.stacks.opening import open_preview

    stack = open_preview(stacks_dir, slug, "content push")
    try:
        result = run_push(stack, folder, dry_run, err)
    except ContentRejected as exc:
        if as_json:
            problems = [p.to_json() for p in exc.problems]
            echo_json({"stack": stack.stack_name, "dryRun": dry_run, "problems": problems})
        _print_problems(exc.problems)
        click.echo(f"Error: {len(exc.problems)} problem(s); nothing was published", err=True)
        ctx.exit(ExitCode.BAD_INPUT)
    if as_json:
        echo_json(result.to_json())
    elif dry_run:
        _print_diff(f"checks passed; against {result.release}", result.changes)
    elif result.published:
        click.echo(f"{stack.stack_name} serves {result.release} (previous {result.previous})")
    else:
        click.echo(f"{stack.stack_name} already serves these files ({result.release})")


@content.command()
@click.argument("slug")
@stacks_dir_option
@json_option
def rollback(slug: str, stacks_dir: Path, as_json: bool) -> None:
    """Serve the release preview served before the last push (run again to go forward).

    \b
    Examples:
      tenantctl content rollback demo
      tenantctl content rollback demo --json
    """
    from infra.ops.content.edit import rollback as run_rollback
    from infra.ops.stacks.opening import open_preview

    result = run_rollback(open_preview(stacks_dir, slug, "content rollback"), err)
    if as_json:
        echo_json(result.to_json())
    else:
        click.echo(f"serving {result.release} again (was {result.previous})")


@content.command()
@click.argument("slug")
@stage_option("Which stack's served release to serve.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Serve this folder instead of the stack's served release.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8040, show_default=True)
@stacks_dir_option
def preview(
    slug: str, stage: naming.Stage, folder: Path | None, port: int, stacks_dir: Path
) -> None:
    """Serve the portal and every email on 127.0.0.1 with sample data, to look at in a browser.

    Serves the release the stack serves, or --dir FOLDER (e.g. one you pulled
    and are editing; reloading the page does not re-read it: restart). Emails
    are at /emails/. Stop with Ctrl-C.

    \b
    Examples:
      tenantctl content preview demo
      tenantctl content preview demo --dir ./demo-content --port 8041
      tenantctl content preview demo --stage production
    """
    from infra.ops.content.edit import read_folder, served_files
    from infra.ops.content.preview import serve_forever
    from infra.ops.stacks.handle import refuse_stack_names
    from infra.ops.stacks.opening import open_from_files

    files: Mapping[str, bytes]
    if folder is not None:
        files = read_folder(folder)
    else:
        if stage == naming.PREVIEW:
            refuse_stack_names(slug, "content preview")
        files = served_files(open_from_files(stacks_dir, slug, stage))
    serve_forever(
        files,
        port,
        lambda url: err(
            f"Serving {len(files)} files on {url}/ (emails: {url}/emails/); Ctrl-C stops"
        ),
    )


COMMANDS = [content]
