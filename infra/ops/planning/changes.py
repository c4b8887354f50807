"""What a commit range changed, read from git, and the stacks it affects.

``git diff --name-status -M -z BASE...HEAD`` lists the changes since the
merge base (renames detected), ``git ls-tree`` the stack files at HEAD, and
``git show`` a tenant file's ``slug:`` before and after the change. The rules
and the wave plan are pure logic in ``infra.core.affected``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra.core import affected as rules
from infra.core import naming
from infra.core.errors import EnvironmentProblem, UserInputError


def _git(repo: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise EnvironmentProblem("git is not installed; install git and re-run")
    try:
        done = subprocess.run(
            [git, "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise EnvironmentProblem(f"could not run git: {exc}") from exc
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserInputError(
            f"git {args[0]} failed in {repo}: {message} (in CI, check out with fetch-depth: 0)"
        )
    return done.stdout


def resolve(repo: Path, ref: str) -> str:
    """The commit *ref* names; one line if it does not exist."""
    if ref.startswith("-"):
        raise UserInputError(f"{ref!r} is not a git revision")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except UserInputError:
        raise UserInputError(
            f"git revision {ref!r} not found in {repo}; fetch it (actions/checkout with "
            "fetch-depth: 0) or pass an existing --base"
        ) from None


def diff(repo: Path, base: str, head: str) -> list[rules.Change]:
    """Changes from the merge base of *base* and *head* to *head*, renames detected."""
    out = _git(repo, "diff", "--name-status", "-M", "-z", "--no-color", f"{base}...{head}")
    fields = out.split("\0")
    changes: list[rules.Change] = []
    i = 0
    while i < len(fields) and fields[i]:
        status = fields[i]
        if status[0] in "RC":
            changes.append(rules.Change(status[0], fields[i + 2], old_path=fields[i + 1]))
            i += 3
        else:
            changes.append(rules.Change(status[0], fields[i + 1]))
            i += 2
    return changes


def tree_paths(repo: Path, commit: str, folder: str = rules.STACKS_DIR) -> list[str]:
    out = _git(repo, "ls-tree", "-r", "--name-only", "-z", commit, "--", folder)
    return [p for p in out.split("\0") if p]


def _slug_at(repo: Path, commit: str, path: str) -> str | None:
    try:
        text = _git(repo, "show", f"{commit}:{path}")
    except UserInputError:
        return None  # not there at this commit (added or deleted by the change)
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError:
        return None
    slug = data.get("slug") if isinstance(data, dict) else None
    if not isinstance(slug, str) or naming.slug_problem(slug) is not None:
        return None
    return slug


def affected(
    repo: Path, base: str, head: str = "HEAD", *, every_stack_if_base_missing: bool = False
) -> tuple[str | None, str, rules.Affected]:
    """Resolved base and head commits and the stacks the range affects.

    When *base* is not in the repository (a force-push rewrote the history a push
    event names) and *every_stack_if_base_missing*, the base is ``None`` and every
    stack at head is affected, with a note saying why; otherwise that is an error.
    """
    head_sha = resolve(repo, head)
    try:
        base_sha = resolve(repo, base)
    except UserInputError:
        if not every_stack_if_base_missing:
            raise
        why = (
            f"base {base!r} is not in this repository (history rewritten by a force-push?); "
            "every stack is treated as affected"
        )
        return None, head_sha, rules.every_stack(rules.head_stacks(tree_paths(repo, head_sha)), why)
    merge_base = _git(repo, "merge-base", base_sha, head_sha).strip()
    changes = diff(repo, base_sha, head_sha)
    existing = rules.head_stacks(tree_paths(repo, head_sha))

    def tenant_slugs(change: rules.Change) -> Iterable[str]:
        before = change.old_path or change.path
        found = {_slug_at(repo, merge_base, before), _slug_at(repo, head_sha, change.path)}
        return sorted(s for s in found if s)

    return base_sha, head_sha, rules.affected_stacks(changes, existing, tenant_slugs)
