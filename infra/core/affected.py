"""Which stacks a set of changed paths affects, and the order CI deploys them in.

Given the paths a commit range changed (``git diff --name-status -M``, read by
``infra.ops.planning.changes``), ``affected_stacks`` says which tenant stacks must be
planned and deployed:

- the program, its dependencies, the templates, the policy pack, ``Pulumi.yaml``
  or ``pyproject.toml`` -> every stack;
- ``stacks/Pulumi.<slug>-<stage>.yaml`` -> that stack (a deleted or renamed-away
  stack file is reported as removed: destroying a stack is a person's decision);
- any other ``stacks/*.yaml`` is a tenant file -> both stages of the client it names.

``plan_waves`` then orders them the way a fleet-wide change should roll out:
a few canary previews, all other previews, a few canary productions, all other
productions; each wave split into chunks of at most ``MATRIX_LIMIT`` jobs
(GitHub's limit per matrix).

Pure logic: no Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.core import naming
from infra.core.errors import UserInputError
from infra.core.platform import PLATFORM_OUTPUTS_FILE

STACKS_DIR = "stacks/"
"""Where stack and tenant files live in the repository (the fixed top-level layout)."""

EVERY_STACK_PATHS: tuple[str, ...] = (
    "infra/__init__.py",
    "infra/__main__.py",
    "infra/core/",
    "infra/program/",
    "infra/ops/",
    "templates/",
    "policy/",
    "Pulumi.yaml",
    "pyproject.toml",
    # Every plan reads the platform's outputs (bucket names, zone, listener) from here.
    STACKS_DIR + PLATFORM_OUTPUTS_FILE,
)
"""Paths (exact files, or folders ending in /) whose change affects every stack: the program,
what it imports, what it renders and what checks it. The CLI, developer tooling, tests, docs
and scripts change no stack."""

MATRIX_LIMIT = 256
"""GitHub Actions runs at most this many jobs from one matrix."""

DEFAULT_CANARIES = 3
"""Stacks per canary wave (previews first, then productions) of a fleet-wide change."""

DEFAULT_MAX_CHUNKS = 4
"""Matrices per wave the deploy workflow has slots for (4 x 256 covers 1,000 clients)."""


@dataclass(frozen=True)
class Change:
    """One line of ``git diff --name-status -M``: status letter, path and, for a rename, the
    path before."""

    status: str
    path: str
    old_path: str | None = None


@dataclass(frozen=True, order=True)
class StackRef:
    slug: str
    stage: naming.Stage

    @property
    def stack(self) -> str:
        return naming.stack_name(self.slug, self.stage)

    def to_json(self) -> dict[str, str]:
        return {"stack": self.stack, "slug": self.slug, "stage": self.stage}


def _stage_order(ref: StackRef) -> tuple[int, str]:
    return (naming.STAGES.index(ref.stage), ref.slug)


def rollout_order(stacks: Iterable[StackRef]) -> list[StackRef]:
    """*stacks* once each, in the order a fleet-wide change rolls out: previews first, by slug."""
    return sorted(set(stacks), key=_stage_order)


@dataclass
class Affected:
    """The stacks to plan and deploy (existing at head), why, and stacks whose file is gone."""

    stacks: list[StackRef]
    reasons: dict[str, list[str]]
    removed: list[str]
    every_stack: bool
    notes: list[str] = field(default_factory=list)


def _is_every_stack_path(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in EVERY_STACK_PATHS)


def stack_of_file(path: str) -> StackRef | None:
    """The stack a ``stacks/Pulumi.<stack>.yaml`` path defines, or None for any other path."""
    if not path.startswith(STACKS_DIR) or "/" in path[len(STACKS_DIR) :]:
        return None
    match = naming.STACK_FILE_PATTERN.match(path[len(STACKS_DIR) :])
    if match is None:
        return None
    try:
        slug, stage = naming.parse_stack_name(match["stack"])
    except naming.NameError_:
        return None
    return StackRef(slug, stage)


def is_tenant_file(path: str) -> bool:
    """A YAML file directly in ``stacks/`` that is not a stack file."""
    name = path[len(STACKS_DIR) :] if path.startswith(STACKS_DIR) else ""
    return (
        bool(name)
        and "/" not in name
        and name.endswith((".yaml", ".yml"))
        and not name.startswith("Pulumi.")
    )


def head_stacks(paths: Iterable[str]) -> list[StackRef]:
    """Every stack defined by the stack files among *paths* (the tree at the head commit)."""
    return sorted({ref for p in paths if (ref := stack_of_file(p)) is not None}, key=_stage_order)


def affected_stacks(
    changes: Iterable[Change],
    existing: Iterable[StackRef],
    tenant_slugs: Callable[[Change], Iterable[str]],
) -> Affected:
    """The stacks *changes* affect, among the *existing* stacks (those at the head commit).

    *tenant_slugs* returns the client slugs a changed tenant file names (before and after
    the change: a rename or an edited slug affects both).
    """
    existing_set = set(existing)
    reasons: dict[StackRef, list[str]] = {}
    removed: set[str] = set()
    notes: list[str] = []
    every_paths: list[str] = []

    def add(ref: StackRef, why: str) -> None:
        if ref in existing_set:
            reasons.setdefault(ref, []).append(why)

    for change in changes:
        paths = [change.path] + ([change.old_path] if change.old_path else [])
        if any(_is_every_stack_path(p) for p in paths):
            every_paths.append(change.path)
            continue
        for path in paths:
            defined = stack_of_file(path)
            if defined is None:
                continue
            if defined in existing_set:
                add(defined, f"{change.path} (stack file)")
            else:
                removed.add(defined.stack)
        if any(is_tenant_file(p) for p in paths):
            slugs = sorted(set(tenant_slugs(change)))
            if not slugs:
                notes.append(f"{change.path}: tenant file names no valid slug; ignored")
            for slug in slugs:
                for stage in naming.STAGES:
                    add(StackRef(slug, stage), f"{change.path} (tenant file)")
    if every_paths:
        # One shared reason, so a fleet-wide change does not repeat every path per stack.
        shown = ", ".join(sorted(every_paths)[:3])
        more = f" (+{len(every_paths) - 3} more)" if len(every_paths) > 3 else ""
        for each in existing_set:
            add(each, f"{shown}{more} (program, templates or policy)")
    ordered = sorted(reasons, key=_stage_order)
    return Affected(
        stacks=ordered,
        reasons={ref.stack: sorted(set(reasons[ref])) for ref in ordered},
        removed=sorted(removed),
        every_stack=bool(every_paths),
        notes=notes,
    )


def every_stack(existing: Iterable[StackRef], why: str) -> Affected:
    """Every existing stack, for one reason that is not a change (e.g. an unknown base)."""
    ordered = sorted(set(existing), key=_stage_order)
    return Affected(
        stacks=ordered,
        reasons={ref.stack: [why] for ref in ordered},
        removed=[],
        every_stack=True,
        notes=[why],
    )


# ------------------------------------------------------------------------ waves


@dataclass(frozen=True)
class Wave:
    """Stacks deployed together; the next wave starts only if this one stayed under the
    failure threshold. ``chunks`` are the matrices (each at most ``MATRIX_LIMIT`` jobs)."""

    name: str
    stage: naming.Stage
    chunks: tuple[tuple[StackRef, ...], ...]

    @property
    def stacks(self) -> list[StackRef]:
        return [ref for chunk in self.chunks for ref in chunk]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stage": self.stage,
            "size": len(self.stacks),
            "chunks": [matrix(chunk) for chunk in self.chunks],
        }


WAVE_NAMES: tuple[tuple[str, naming.Stage], ...] = (
    ("canary-previews", naming.PREVIEW),
    ("previews", naming.PREVIEW),
    ("canary-productions", naming.PRODUCTION),
    ("productions", naming.PRODUCTION),
)
"""Every wave a plan can hold, in deploy order (the deploy workflow has one slot per chunk)."""


def matrix(stacks: Iterable[StackRef]) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions matrix: ``{"include": [{"stack", "slug", "stage"}, ...]}``."""
    return {"include": [ref.to_json() for ref in stacks]}


def chunked(stacks: list[StackRef], size: int = MATRIX_LIMIT) -> tuple[tuple[StackRef, ...], ...]:
    if size < 1:
        raise UserInputError(f"chunk size must be at least 1, not {size}")
    return tuple(tuple(stacks[i : i + size]) for i in range(0, len(stacks), size))


def plan_waves(
    stacks: Iterable[StackRef],
    *,
    canaries: int = DEFAULT_CANARIES,
    chunk_size: int = MATRIX_LIMIT,
    max_chunks: int = DEFAULT_MAX_CHUNKS,
) -> list[Wave]:
    """Previews before productions; per stage, *canaries* stacks first when there are more.

    A change to fewer than or as many stacks per stage as *canaries* needs no canary: it is
    one wave per stage. Empty waves are left out.
    """
    if not 1 <= chunk_size <= MATRIX_LIMIT:
        raise UserInputError(f"--chunk-size must be 1 to {MATRIX_LIMIT}, not {chunk_size}")
    if not 0 <= canaries <= chunk_size:
        raise UserInputError(f"--canaries must be 0 to --chunk-size ({chunk_size}), not {canaries}")
    ordered = sorted(set(stacks), key=_stage_order)
    waves: list[Wave] = []
    for stage in naming.STAGES:
        of_stage = [ref for ref in ordered if ref.stage == stage]
        canary_name, rest_name = (name for name, s in WAVE_NAMES if s == stage)
        canary, rest = (
            (of_stage[:canaries], of_stage[canaries:])
            if canaries and len(of_stage) > canaries
            else ([], of_stage)
        )
        for name, members in ((canary_name, canary), (rest_name, rest)):
            if members:
                waves.append(Wave(name, stage, chunked(members, chunk_size)))
    free = set(slot_names(max_chunks))
    for wave in waves:
        if f"{wave.name}-{len(wave.chunks)}" not in free:
            raise UserInputError(
                f"wave {wave.name} needs {len(wave.chunks)} matrices of {chunk_size}, more than "
                f"the {max_chunks} the deploy workflow has slots for; raise --chunk-size or "
                "add slots to .github/workflows/deploy.yml"
            )
    return waves


def slot_names(max_chunks: int = DEFAULT_MAX_CHUNKS) -> list[str]:
    """The matrix slots of the deploy workflow: ``<wave>-<n>`` for every wave and chunk."""
    return [
        f"{name}-{n}"
        for name, _ in WAVE_NAMES
        for n in range(1, (1 if name.startswith("canary") else max_chunks) + 1)
    ]


def slots(waves: Iterable[Wave], max_chunks: int = DEFAULT_MAX_CHUNKS) -> dict[str, str]:
    """Every slot of the deploy workflow mapped to its matrix as compact JSON, or "" when the
    slot has nothing to deploy (the workflow skips it)."""
    out = dict.fromkeys(slot_names(max_chunks), "")
    for wave in waves:
        for n, chunk in enumerate(wave.chunks, start=1):
            out[f"{wave.name}-{n}"] = json.dumps(matrix(chunk), separators=(",", ":"))
    return out
