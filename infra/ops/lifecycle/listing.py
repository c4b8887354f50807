"""list: every tenant in ``stacks/`` from its stack files alone, and the rows ``status`` fills.

``list`` reads only the stack files, so this module imports no AWS or database
client (``tests/test_cli_startup.py`` holds it to that); ``status``
(``infra.ops.lifecycle.status``) adds what each stage's content bucket records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from infra.core import naming
from infra.core.errors import LocalIOError, TenantctlError
from infra.core.spec import SpecError, TenantSpec
from infra.ops.stacks.stackfiles import read_spec, tenants


@dataclass(frozen=True)
class ListedStage:
    """One stage as its stack file says; ``error`` when the file could not be read."""

    stack: str
    live: bool | None
    portal_url: str = ""
    admin_url: str = ""
    error: str = ""
    qualified_stack: str = ""
    """``<org>/tenants/<slug>-<stage>`` (``naming.qualified_stack_name``): what pipelines
    pass to ``pulumi -s``, since a bare name resolves against the token's default org."""

    @property
    def file_error(self) -> bool:
        return bool(self.error)

    def to_json(self) -> dict[str, Any]:
        if self.error:
            return {"stack": self.stack, "live": None, "error": self.error, "fileError": True}
        return {
            "stack": self.stack,
            "qualifiedStack": self.qualified_stack,
            "live": self.live,
            "portalUrl": self.portal_url,
            "adminUrl": self.admin_url,
        }


@dataclass(frozen=True)
class StageStatus:
    """One stage as its content bucket records it; ``error`` when it could not be reached."""

    listed: ListedStage
    current_release: str | None = None
    switched_at: str | None = None
    last_reset: str | None = None
    training_data: str | None = None
    """The training set's version the last reset loaded (preview only), if any."""
    last_promotion: dict[str, Any] | None = None
    promotion_in_progress: str | None = None
    error: str = ""

    @property
    def file_error(self) -> bool:
        return self.listed.file_error

    @property
    def reachable(self) -> bool:
        return not (self.error or self.listed.error)

    @property
    def note(self) -> str:
        """What a person should know first: an error, else an unfinished promotion."""
        if self.listed.error or self.error:
            return self.listed.error or self.error
        if self.promotion_in_progress:
            return f"promotion {self.promotion_in_progress} unfinished"
        return ""

    def to_json(self) -> dict[str, Any]:
        if self.listed.error:
            return {**self.listed.to_json(), "reachable": False}
        row = {
            **self.listed.to_json(),
            "currentRelease": self.current_release,
            "switchedAt": self.switched_at,
            "lastReset": self.last_reset,
            "trainingData": self.training_data,
            "lastPromotion": self.last_promotion,
            "promotionInProgress": self.promotion_in_progress,
            "reachable": self.reachable,
        }
        if self.error:
            row["error"] = self.error
        return row


S = TypeVar("S", ListedStage, StageStatus)


@dataclass(frozen=True)
class TenantRow(Generic[S]):
    """A tenant and its stages (``list`` gives ``ListedStage``, ``status`` ``StageStatus``)."""

    slug: str
    stages: dict[naming.Stage, S] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"slug": self.slug, "stages": {k: v.to_json() for k, v in self.stages.items()}}


def broken_files(rows: list[TenantRow[ListedStage]] | list[TenantRow[StageStatus]]) -> int:
    """How many stages of *rows* have a stack file that could not be read."""
    return sum(1 for row in rows for info in row.stages.values() if info.file_error)


def read_stage(
    stacks_dir: Path, slug: str, stage: naming.Stage
) -> tuple[TenantSpec | None, ListedStage]:
    """The stage's spec and listing; no spec when its stack file is broken (one client's error)."""
    try:
        spec = read_spec(stacks_dir, slug, stage)
    except (TenantctlError, SpecError) as exc:
        error = " / ".join(line.strip() for line in str(exc).splitlines()) or type(exc).__name__
        return None, ListedStage(naming.stack_name(slug, stage), None, error=error)
    return spec, ListedStage(
        spec.stack_name,
        spec.live,
        f"https://{spec.public_portal_host}",
        f"https://{spec.admin_host}",
        qualified_stack=naming.qualified_stack_name(spec.platform_stack, spec.slug, spec.stage),
    )


def tenants_in(stacks_dir: Path) -> dict[str, list[naming.Stage]]:
    """The tenants of an existing stacks folder (a missing one is not an empty fleet)."""
    if not stacks_dir.is_dir():
        what = "is not a folder" if stacks_dir.exists() else "does not exist"
        raise LocalIOError(
            f"stacks folder {stacks_dir} {what}; pass --stacks-dir DIR (or set "
            f"{naming.STACKS_DIR_ENV}) to the folder of Pulumi.<slug>-<stage>.yaml files"
        )
    return tenants(stacks_dir)


def list_tenants(stacks_dir: Path) -> list[TenantRow[ListedStage]]:
    """Every tenant's stages from the stack files; a broken file is that stage's ``error``."""
    found = tenants_in(stacks_dir)
    return [
        TenantRow(slug, {stage: read_stage(stacks_dir, slug, stage)[1] for stage in found[slug]})
        for slug in sorted(found)
    ]
