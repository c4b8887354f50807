"""Generated documentation: the ``Pulumi.yaml`` config block and the README references.

The tenant spec (``infra.core.spec``) and the platform contract (``infra.core.platform``)
are the single sources; ``scripts/gen-docs`` writes their text into
``Pulumi.yaml`` and ``README.md`` between marker lines, and
``tests/test_docs.py`` fails when the files drift.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.core import naming, placeholders
from infra.core.import_kinds import kinds_table
from infra.core.spec import ROLES
from infra.core.spec_docs import config_reference

BEGIN = "BEGIN GENERATED {name} (scripts/gen-docs; do not edit by hand)"
END = "END GENERATED {name}"

# Pulumi's project config accepts these types only; structured keys are documented in a comment.
_PULUMI_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean"}


def pulumi_config_block() -> str:
    """The ``config:`` block of Pulumi.yaml: every top-level key with type and description."""
    rows = config_reference()
    lines = [
        "config:",
        "  # Structured keys (object / list values in the stack files). Pulumi project config",
        "  # can only declare string, integer, boolean and array types, so these are listed here:",
    ]
    for key, type_name, _, description in rows:
        if "." in key or "[" in key or type_name in _PULUMI_TYPES:
            continue
        lines.append(f"  #   {naming.PROJECT}:{key} ({type_name}): {description}")
        for sub, sub_type, sub_default, sub_description in rows:
            if sub.startswith((key + ".", key + "[].")):
                field = sub.split(".", 1)[1]
                extra = f" Default {sub_default}." if sub_default not in ("", "(required)") else ""
                required = " Required." if sub_default == "(required)" else ""
                lines.append(f"  #     {field} ({sub_type}):{required} {sub_description}{extra}")
    # Pulumi treats a declared key without a default as required on every stack, so an
    # optional key with no default (portalDomain) may only be described, never declared.
    optional = [row for row in rows if row[1] in _PULUMI_TYPES and row[2] == ""]
    if optional:
        lines.append(
            "  # Optional keys without a default (declaring them would make Pulumi require"
        )
        lines.append("  # them on every stack):")
    for key, type_name, _, description in optional:
        if "." not in key and "[" not in key:
            lines.append(f"  #   {naming.PROJECT}:{key} ({type_name}): {description}")
    for key, type_name, default, description in rows:
        if "." in key or "[" in key or type_name not in _PULUMI_TYPES or default == "":
            continue
        lines.append(f"  {naming.PROJECT}:{key}:")
        lines.append(f"    type: {_PULUMI_TYPES[type_name]}")
        lines.append(f"    description: {json.dumps(description)}")
        if default not in ("", "(required)"):
            value = default if type_name != "string" else json.dumps(default)
            lines.append(f"    default: {value}")
    return "\n".join(lines)


def readme_config_table() -> str:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for key, type_name, default, description in config_reference():
        shown = f"`{default}`" if default not in ("", "(required)") else default
        text = description.replace("|", "/")
        lines.append(f"| `{naming.PROJECT}:{key}` | {type_name} | {shown} | {text} |")
    return "\n".join(lines)


def readme_roles_table() -> str:
    lines = ["| role | may |", "|---|---|"]
    lines += [f"| `{role}` | {text} |" for role, text in ROLES.items()]
    return "\n".join(lines)


def readme_platform_table() -> str:
    from infra.core.platform import PLATFORM_OUTPUTS

    lines = ["| output | description |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in PLATFORM_OUTPUTS.items()]
    return "\n".join(lines)


def readme_scheduler_roles() -> str:
    import json

    from infra.core.integration_config import scheduler_role_policies
    from infra.core.platform import SCHEDULER_ROLE_OUTPUTS

    lines: list[str] = []
    for stage, output in SCHEDULER_ROLE_OUTPUTS.items():
        policies = scheduler_role_policies(stage)
        lines += [f"`{output}` ({stage}): trust policy, then its one permission policy.", ""]
        for kind in ("trust", "permissions"):
            lines += ["```json", json.dumps(policies[kind], indent=2), "```", ""]
    return "\n".join(lines).rstrip()


def readme_exit_codes_table() -> str:
    from infra.core.errors import EXIT_CODES

    lines = ["| exit code | meaning |", "|---|---|"]
    lines += [f"| {int(code)} | {text.replace('|', '/')} |" for code, text in EXIT_CODES.items()]
    return "\n".join(lines)


def readme_stack_outputs_table() -> str:
    from infra.program.tenant import STACK_OUTPUTS

    lines = ["| output | description |", "|---|---|"]
    lines += [f"| `{o.name}` | {o.description} |" for o in STACK_OUTPUTS]
    return "\n".join(lines)


def readme_capacity_table() -> str:
    """``tenantctl capacity`` for 1,000 clients over this project's stacks/ (from the plans)."""
    from infra import PROJECT_DIR
    from infra.ops.planning.capacity import DEFAULT_CLIENTS, capacity

    report = capacity(PROJECT_DIR / "stacks", DEFAULT_CLIENTS)
    lines = [
        f"| quota | scope | per client | {DEFAULT_CLIENTS:,} clients | default | adjustable | "
        "request |",
        "|---|---|---|---|---|---|---|",
    ]
    for use in report.uses:
        request = f"raise to {use.total:,}" if use.binds else ""
        lines.append(
            f"| {use.quota.name} | {use.quota.scope} | {use.per_client} | {use.total:,} | "
            f"{use.quota.default:,} | {'yes' if use.quota.adjustable else 'no'} | {request} |"
        )
    notes = [use.ceiling_note() for use in report.uses if use.ceiling is not None]
    return "\n".join(lines + [""] + [f"{note}." for note in notes] if notes else lines)


def readme_cost_table() -> str:
    """``tenantctl cost`` for 1,000 clients at the stage defaults, and the demo as sized."""
    from infra import PROJECT_DIR
    from infra.ops.planning.cost import DEFAULT_CLIENTS, cost

    stacks = PROJECT_DIR / "stacks"
    lines = [
        f"| shape | sizing | preview | production | per client | {DEFAULT_CLIENTS:,} clients |",
        "|---|---|---|---|---|---|",
    ]
    for report in (cost(stacks, DEFAULT_CLIENTS), cost(stacks, DEFAULT_CLIENTS, "demo")):
        for shape in report.shapes:
            lines.append(
                f"| {shape.shape} | {report.sizing} | ${shape.stage_total('preview'):,.2f} | "
                f"${shape.stage_total('production'):,.2f} | ${shape.per_client:,.2f} | "
                f"${shape.per_client * DEFAULT_CLIENTS:,.0f} |"
            )
    return "\n".join(lines)


def replace_between(text: str, name: str, body: str, comment: str) -> str:
    """Replace the lines between the BEGIN/END markers called *name* with *body*."""
    begin = f"{comment} {BEGIN.format(name=name)}"
    end = f"{comment} {END.format(name=name)}"
    if comment == "<!--":
        begin, end = begin + " -->", end + " -->"
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers for {name!r} not found")
    return pattern.sub(lambda _: f"{begin}\n{body}\n{end}", text)


GENERATED = {
    "Pulumi.yaml": [("CONFIG", pulumi_config_block, "#")],
    "README.md": [
        ("CONFIG REFERENCE", readme_config_table, "<!--"),
        ("ROLES", readme_roles_table, "<!--"),
        ("PLATFORM OUTPUTS", readme_platform_table, "<!--"),
        ("SCHEDULER ROLES", readme_scheduler_roles, "<!--"),
        ("EXIT CODES", readme_exit_codes_table, "<!--"),
        ("IMPORT KINDS", kinds_table, "<!--"),
        ("STACK OUTPUTS", readme_stack_outputs_table, "<!--"),
        ("CAPACITY", readme_capacity_table, "<!--"),
        ("COST", readme_cost_table, "<!--"),
    ],
    "templates/README.md": [
        ("PAGE PLACEHOLDERS", placeholders.pages_table, "<!--"),
        ("EMAIL PLACEHOLDERS", placeholders.emails_table, "<!--"),
        ("MESSAGE PLACEHOLDERS", placeholders.messages_table, "<!--"),
    ],
}


def regenerate(root: Path) -> dict[str, str]:
    """New text of every generated file under *root* (only those whose markers exist)."""
    out: dict[str, str] = {}
    for filename, sections in GENERATED.items():
        path = root / filename
        text = path.read_text(encoding="utf-8")
        for name, make, comment in sections:
            text = replace_between(text, name, make(), comment)
        out[filename] = text
    return out
