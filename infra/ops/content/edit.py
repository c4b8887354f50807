"""Phase 3 content editing: pull a release to a folder, diff it, check it, push it to preview.

A folder holds one file per content key (``portal/home.html`` …), exactly the
files of a release. ``push`` reads the folder, runs every check
(``infra.core.content_checks``) and publishes only when none fails; it then
switches the preview's ``current.json`` to the new release with one PUT. The
release served before stays in the bucket and is named as ``previous`` in
``current.json``, so ``rollback`` is one PUT back.

Push and rollback take a ``PreviewStack``: production content changes only
through ``promote``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core.content_checks import Problem, check_content
from infra.core.content_model import ContentDiff, content_manifest, diff_manifests
from infra.core.errors import LocalIOError, PreconditionFailed, UserInputError
from infra.core.steps import Progress, quiet
from infra.ops.stacks.handle import PreviewStack, StackHandle
from infra.ops.stacks.locking import client_lock, preview_place

PUSH_RECORD = "last-content-push"


class ContentRejected(UserInputError):
    """A folder that fails the checks; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the content; nothing was published "
            f"(first: {problems[0]})"
        )


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every file under *folder* by its content key; dotfiles and dot-folders are skipped."""
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a folder; `tenantctl content pull` makes one")
    files: dict[str, bytes] = {}
    try:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(root) / name
                files[path.relative_to(folder).as_posix()] = path.read_bytes()
    except OSError as exc:
        raise LocalIOError(f"cannot read {folder}: {exc.strerror or exc}") from None
    if not files:
        raise UserInputError(f"{folder} has no files; `tenantctl content pull` fills it")
    return files


def _served(stack: StackHandle) -> tuple[str | None, dict[str, str]]:
    current = stack.content.current()
    if current is None:
        return None, {}
    release = stack.content.release(current.release)
    return current.release, dict(release.files) if release else {}


def _diff_json(diff: ContentDiff) -> dict[str, list[str]]:
    return {"added": diff.added, "changed": diff.changed, "removed": diff.removed}


@dataclass(frozen=True)
class Pulled:
    """A release written to a folder (``content pull``)."""

    stack: str
    release: str
    folder: Path
    files: int

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "release": self.release,
            "folder": str(self.folder),
            "files": self.files,
        }


@dataclass(frozen=True)
class FolderDiff:
    """What pushing a folder would change, and what a push would refuse (``content diff``)."""

    stack: str
    release: str | None
    against_current: ContentDiff
    against_defaults: ContentDiff
    problems: list[Problem]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "release": self.release,
            "againstCurrent": _diff_json(self.against_current),
            "againstDefaults": _diff_json(self.against_defaults),
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True)
class Pushed:
    """A checked folder, published (or, with ``dry_run``, only compared): ``content push``.

    ``published`` is false for a dry run and for a folder the preview already serves.
    """

    stack: str
    dry_run: bool
    files: int
    release: str | None
    changes: ContentDiff
    previous: str | None = None
    published: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"stack": self.stack, "dryRun": self.dry_run, "files": self.files}
        if self.dry_run:
            return data | {"release": self.release, "changes": _diff_json(self.changes)}
        return data | {
            "changes": _diff_json(self.changes),
            "release": self.release,
            "previous": self.previous,
            "published": self.published,
        }


@dataclass(frozen=True)
class RolledBack:
    """The release preview serves again, and the one it served before (``content rollback``)."""

    stack: str
    release: str
    previous: str

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "release": self.release, "previous": self.previous}


def pull(stack: StackHandle, folder: Path, progress: Progress = quiet) -> Pulled:
    """Write the stack's current release to *folder* (which must be empty or absent)."""
    release_id, files = _served(stack)
    if release_id is None:
        raise PreconditionFailed(
            f"{stack.stack_name} serves no release yet; run `tenantctl create "
            f"{stack.spec.slug}` first"
        )
    if folder.exists() and any(folder.iterdir()):
        raise UserInputError(f"{folder} is not empty; pull into a new folder")
    try:
        for key in files:
            target = folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(stack.content.read(release_id, key))
    except OSError as exc:
        raise LocalIOError(f"cannot write {folder}: {exc.strerror or exc}") from None
    progress(f"  {len(files)} files of release {release_id} written to {folder}")
    return Pulled(stack.stack_name, release_id, folder, len(files))


def diff(stack: StackHandle, folder: Path) -> FolderDiff:
    """What pushing *folder* would change: against the served release and the defaults."""
    files = read_folder(folder)
    manifest = content_manifest(files)
    release_id, served = _served(stack)
    return FolderDiff(
        stack=stack.stack_name,
        release=release_id,
        against_current=diff_manifests(served, manifest),
        against_defaults=diff_manifests(stack.content.defaults_manifest(), manifest),
        problems=check_content(files, stack.spec.branding.allowed_origins),
    )


def push(
    stack: PreviewStack, folder: Path, dry_run: bool = False, progress: Progress = quiet
) -> Pushed:
    """Check *folder*; unless *dry_run*, publish it as a release and switch preview to it.

    Raises ``ContentRejected`` (nothing written) when any check fails. Pushing
    the same folder again changes nothing.
    """
    if not isinstance(stack, PreviewStack):  # the type says so; this keeps it true at runtime
        raise PreconditionFailed("content push only acts on preview; production changes by promote")
    files = read_folder(folder)
    problems = check_content(files, stack.spec.branding.allowed_origins)
    if problems:
        raise ContentRejected(problems)
    manifest = content_manifest(files)
    if dry_run:
        release_id, served = _served(stack)
        return Pushed(
            stack.stack_name, True, len(files), release_id, diff_manifests(served, manifest)
        )
    with client_lock(stack.spec.slug, "content push", preview_place(stack)):
        release_id, served = _served(stack)
        changes = diff_manifests(served, manifest)
        if changes.is_empty and release_id is not None:
            progress(f"  unchanged: {stack.stack_name} already serves these files ({release_id})")
            return Pushed(stack.stack_name, False, len(files), release_id, changes)
        release = stack.content.publish(files=files, source=f"push:{folder.name}")
        current = stack.content.switch(release.id, previous=release_id)
        stack.content.put_record(
            PUSH_RECORD, {"release": release.id, "previous": release_id, "at": current.switched_at}
        )
    progress(f"  release {release.id} published and current (previous {release_id})")
    return Pushed(
        stack.stack_name,
        False,
        len(files),
        release.id,
        changes,
        previous=release_id,
        published=True,
    )


def rollback(stack: PreviewStack, progress: Progress = quiet) -> RolledBack:
    """Serve the release preview served before the last switch (one PUT of current.json)."""
    with client_lock(stack.spec.slug, "content rollback", preview_place(stack)):
        current = stack.content.current()
        if current is None or not current.previous:
            raise PreconditionFailed(f"{stack.stack_name} has no previous release to go back to")
        switched = stack.content.switch(current.previous, previous=current.release)
    progress(f"  {stack.stack_name} serves {switched.release} again (was {current.release})")
    return RolledBack(stack.stack_name, switched.release, current.release)


def content_differs_from_defaults(stack: StackHandle) -> bool:
    """Whether the served release differs from the defaults (rollout: "content edited")."""
    _, served = _served(stack)
    return served != stack.content.defaults_manifest()


def served_files(stack: StackHandle) -> Mapping[str, bytes]:
    """The bytes of every file of the served release (for the preview server)."""
    release_id, files = _served(stack)
    if release_id is None:
        raise PreconditionFailed(f"{stack.stack_name} serves no release yet")
    return {key: stack.content.read(release_id, key) for key in files}
