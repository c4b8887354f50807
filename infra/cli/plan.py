"""``tenantctl plan``: what a stack contains, without credentials, network or the Pulumi CLI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from infra.cli.common import echo_json, json_option, stacks_dir_option
from infra.core import naming

if TYPE_CHECKING:
    from rich.tree import Tree

# The properties worth a reader's attention, per resource type; everything else is in --json.
HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "identifier",
        "instanceClass",
        "allocatedStorage",
        "maxAllocatedStorage",
        "multiAz",
        "storageEncrypted",
        "publiclyAccessible",
        "manageMasterUserPassword",
        "backupRetentionPeriod",
        "deletionProtection",
        "skipFinalSnapshot",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family", "parameters"),
    "aws:acm/certificate:Certificate": ("domainName", "subjectAlternativeNames"),
    "aws:route53/record:Record": ("name", "type"),
    "aws:lb/listenerRule:ListenerRule": ("priority", "actions"),
    "aws:ssm/parameter:Parameter": ("name", "insecureValue"),
    "aws:s3/bucket:Bucket": ("bucket", "forceDestroy"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
    "aws:secretsmanager/secret:Secret": ("name", "kmsKeyId"),
    "aws:cognito/userPool:UserPool": ("name", "mfaConfiguration", "deletionProtection"),
    "aws:cognito/userGroup:UserGroup": ("name",),
    "aws:cognito/user:User": ("username",),
}
_GROUPED = {"aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject"}


def _brief(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], dict):
        if "type" in value[0]:
            return ", ".join(str(v.get("type")) for v in value)
        return ", ".join(f"{v.get('name')}={v.get('value')}" for v in value if "name" in v)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _tree(plan: Any) -> Tree:
    from rich.tree import Tree

    root = Tree(f"[bold]{plan.stack}[/bold]  ({len(plan.resources)} resources)")
    nodes: dict[str | None, Tree] = {None: root}
    grouped: dict[tuple[str | None, str], list[str]] = {}
    for r in plan.resources:
        if r.type in _GROUPED:
            grouped.setdefault((r.parent, r.type), []).append(str(r.inputs.get("key", r.name)))
            continue
        label = f"{r.name} [dim]{r.type}[/dim]"
        shown = [f"{k}: {_brief(r.inputs[k])}" for k in HIGHLIGHTS.get(r.type, ()) if k in r.inputs]
        if shown:
            label += "\n" + "\n".join(f"  [cyan]{s}[/cyan]" for s in shown)
        nodes[r.name] = nodes.get(r.parent, root).add(label)
    for (parent, type_), keys in grouped.items():
        nodes.get(parent, root).add(
            f"{len(keys)} objects [dim]{type_}[/dim]\n  [cyan]{keys[0]} … {keys[-1]}[/cyan]"
        )
    outputs = root.add("[bold]outputs[/bold]")
    for key, value in plan.outputs.items():
        outputs.add(f"{key}: {_brief(value)}")
    return root


@click.command()
@click.argument("slug")
@click.option(
    "--stage",
    type=click.Choice([*naming.STAGES, "all"]),
    default="all",
    show_default=True,
    help="Which of the client's stacks to plan.",
)
@stacks_dir_option
@json_option
def plan(slug: str, stage: str, stacks_dir: Path, as_json: bool) -> None:
    """Show exactly what a client's stacks contain, offline.

    Evaluates the real Pulumi program under Pulumi's mock runtime with the
    stack's config file: no credentials, network or Pulumi CLI needed. Secret
    values are shown as "[secret]".

    \b
    Examples:
      tenantctl plan demo
      tenantctl plan demo --stage production --json | jq '.stacks[0].outputs'
    """
    from infra.ops.planning.plan import plan_tenant  # the Pulumi SDK loads only for this command

    stages = naming.STAGES if stage == "all" else (cast(naming.Stage, stage),)
    plans = plan_tenant(stacks_dir, slug, stages)
    if as_json:
        echo_json({"stacks": [p.to_json() for p in plans]})
        return
    from rich.console import Console  # only for people: --json does not pay for rich

    console = Console(highlight=False, emoji=False)
    if not console.is_terminal:
        console.width = 200  # piped or captured: keep whole names rather than cut them
    for p in plans:
        console.print(_tree(p))


COMMANDS = [plan]
