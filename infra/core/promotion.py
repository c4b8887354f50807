"""What promotion puts in production: pure rules, no I/O.

Preview's files were rendered for preview (a practice banner, preview URLs in
emails, ``noindex``). Copying them verbatim would put those on the public
site. So the production release is production's own defaults, with the
client's edits laid on top: a preview file that still equals preview's
default is taken from production's defaults; a file the client changed or
added is taken from preview; a default the client removed stays removed.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PromotedContent:
    files: dict[str, str]
    """The production release: ``{key: sha256}``."""
    from_preview: frozenset[str]
    """Keys whose content is the client's edit, copied from preview."""


def promoted_content(
    preview_release: Mapping[str, str],
    preview_defaults: Mapping[str, str],
    production_defaults: Mapping[str, str],
) -> PromotedContent:
    files: dict[str, str] = {}
    edited: set[str] = set()
    for key, digest in preview_release.items():
        if preview_defaults.get(key) == digest and key in production_defaults:
            files[key] = production_defaults[key]
        else:
            files[key] = digest
            edited.add(key)
    return PromotedContent(dict(sorted(files.items())), frozenset(edited))


def dry_run_changes(plan: Mapping[str, Any]) -> list[str]:
    """What a ``promote --dry-run`` plan would change, one phrase each; empty when nothing.

    Drives ``promote --dry-run --detailed-exitcode`` (exit 6 when this is not empty).
    """
    found: list[str] = []
    for kind in ("added", "changed", "removed"):
        if plan["content"][kind]:
            found.append(f"{len(plan['content'][kind])} content files {kind}")
    for table, diff in plan["config"].items():
        rows = sum(len(diff[k]) for k in ("added", "changed", "removed"))
        if rows:
            found.append(f"{rows} rows of {table}")
    for kind, ids in (plan.get("integrations") or {}).items():
        if ids:
            found.append(f"integrations {kind}: {', '.join(ids)}")
    for what in ("payment", "portal"):
        if plan[what]["from"] != plan[what]["to"]:
            found.append(f"{what} {plan[what]['from']} -> {plan[what]['to']}")
    return found
