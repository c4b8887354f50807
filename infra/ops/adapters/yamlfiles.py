"""Comment-preserving YAML and atomic file writes, for files people edit by hand.

A round trip through ``round_trip_yaml()`` keeps comments, key order, quoting
and untouched keys; ``merge_map`` changes only the values that differ.
``stage_write``/``write_atomically`` replace a file in one rename, so a reader
sees the old file or the new one, never half of either.

Nothing here knows what a stack file is (``infra.ops.stacks.stackfiles`` does).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from infra.core.errors import TenantctlError

NEW_FILE_MODE = 0o644

MAX_FILE_BYTES = 256 * 1024
"""The largest stack or tenant file read (the reference files are ~3 KB)."""

MAX_DEPTH = 32
"""The deepest nesting of mappings and sequences accepted (the reference files use 4)."""

MAX_NODES = 20_000
"""The most YAML nodes one file may hold."""


class UnreadableFile(TenantctlError):
    """A file too large, not UTF-8, or YAML past the limits (aliases, depth, size)."""


def read_limited(path: Path, source: str | None = None) -> str:
    """*path*'s text, refusing files over ``MAX_FILE_BYTES`` and bytes that are not UTF-8."""
    source = source or display_path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(
            f"{source} is larger than {MAX_FILE_BYTES // 1024} KiB; a stack or tenant file is "
            "a few KiB, check that it is the right file"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{source}: byte {exc.start} is not UTF-8 text; save the file as UTF-8"
        ) from None


def check_structure(text: str, source: str) -> None:
    """Refuse YAML that would expand or nest past the limits, before building any object.

    Anchors and aliases (``&a`` / ``*a``, including ``<<: *a`` merges) are not
    accepted in stack or tenant files at all: an alias bomb expands a few lines
    into gigabytes. Nesting deeper than ``MAX_DEPTH`` and more than
    ``MAX_NODES`` nodes are refused too. Runs on the parser's event stream,
    which is flat, so a hostile file cannot exhaust the stack while checking.
    """
    if len(text) > MAX_FILE_BYTES:
        raise UnreadableFile(f"{source} is larger than {MAX_FILE_BYTES // 1024} KiB")
    depth = nodes = 0
    keys = _KeyPath()
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _CORE_TAGS and isinstance(event, NodeEvent):
                line = event.start_mark.line + 1 if event.start_mark else "?"
                shown = tag.replace(_YAML_TAG, "!!")
                raise UnreadableFile(
                    f"{source}, line {line}{keys.where()}: the YAML tag {shown}"
                    " is not accepted (only plain strings, numbers, booleans, lists and maps "
                    "are); remove the tag and quote the value (nothing was changed)"
                )
            keys.see(event)
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                raise UnreadableFile(
                    f"{source}: YAML anchors and aliases (&name, *name, <<: *name) are not "
                    "accepted in stack or tenant files; write the values out"
                )
            if isinstance(event, MappingStartEvent | SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise UnreadableFile(
                        f"{source}: nested more than {MAX_DEPTH} levels deep; a tenant file needs 4"
                    )
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                depth -= 1
            if isinstance(event, NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise UnreadableFile(f"{source}: more than {MAX_NODES} YAML values")
    except YAMLError:
        return  # a syntax error: the loader reports it with its line and column


_YAML_TAG = "tag:yaml.org,2002:"
_CORE_TAGS = {_YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "map", "seq")}
"""The tags of YAML's core schema: the only ones a stack or tenant file may spell out
(``!!binary``, ``!!timestamp``, ``!!set``, ``!!python/...`` build other objects)."""


class _KeyPath:
    """Which key of a mapping the parser's event stream is at, for messages."""

    def __init__(self) -> None:
        self._levels: list[list[Any]] = []  # [is_mapping, next_is_key, current_key]

    def see(self, event: Any) -> None:
        top = self._levels[-1] if self._levels else None
        if isinstance(event, MappingStartEvent | SequenceStartEvent):
            self._levels.append([isinstance(event, MappingStartEvent), True, None])
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            self._levels.pop()
            if self._levels and self._levels[-1][0]:
                self._levels[-1][1] = True
        elif isinstance(event, NodeEvent) and top is not None and top[0]:
            if top[1]:
                top[2], top[1] = getattr(event, "value", None), False
            else:
                top[1] = True

    def where(self) -> str:
        path = [str(level[2]) for level in self._levels if level[0] and level[2] is not None]
        return f", key {'.'.join(path)}" if path else ""


_QUOTED = (DoubleQuotedScalarString, SingleQuotedScalarString)


def round_trip_yaml() -> YAML:
    """The one round-trip configuration; it reproduces the reference files byte for byte."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long value or comment
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def display_path(path: Path) -> str:
    """*path* relative to the working directory when it is below it (for messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def yaml_problem(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = (exc.problem or exc.context or "syntax error").strip()
        return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return f"invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def plain(node: Any) -> Any:
    """A round-trip node as plain dicts, lists, str, int, float and bool."""
    if isinstance(node, Mapping):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def write_atomically(path: Path, text: str) -> None:
    """Replace *path* with *text* in one step: a temp file in the same folder, then rename.

    A reader (or ``pulumi up``) sees the old file or the new one, never half of
    either. An existing file keeps its permissions.
    """
    commit = stage_write(path, text)
    commit()


def stage_write(path: Path, text: str) -> Callable[[], None]:
    """Write *text* to a temp file beside *path*; the returned callable renames it into place.

    Lets a caller prepare several files before replacing any of them (``stage_writes``).
    """
    return _stage(path, text)[0]


def _stage(path: Path, text: str) -> tuple[Callable[[], None], Path]:
    mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

    def commit() -> None:
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    return commit, tmp


def stage_writes(files: Sequence[tuple[Path, str]]) -> Callable[[], None]:
    """Stage every file or none, then return one callable that renames them all into place.

    When one cannot be staged (a full disk, say) the ones already staged are
    removed and the error raised; when a rename fails, the temp files not yet
    renamed are removed too. Nothing is left behind either way.
    """
    staged: list[tuple[Callable[[], None], Path]] = []
    try:
        for path, text in files:
            staged.append(_stage(path, text))
    except BaseException:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)
        raise

    def commit_all() -> None:
        for index, (commit, _) in enumerate(staged):
            try:
                commit()
            except BaseException:
                for _, tmp in staged[index + 1 :]:
                    tmp.unlink(missing_ok=True)
                raise

    return commit_all


def merge_map(
    node: CommentedMap,
    desired: Mapping[str, Any],
    full: Mapping[str, Any] | None,
    only_prefix: str = "",
) -> None:
    """Make *node* say *desired*, in place, keeping what already says the same thing.

    *full* is the spec's complete value at this level (defaults included): a key
    the spec leaves out is kept when it spells out exactly that value.
    """
    for key in list(node):
        if not str(key).startswith(only_prefix):
            continue
        if key in desired:
            merged = _merge_value(node[key], desired[key], (full or {}).get(key))
            if merged is not node[key]:
                node[key] = merged
        elif full is not None and key in full and plain(node[key]) == full[key]:
            continue
        else:
            _delete_key(node, key)
    for key, value in desired.items():
        if key not in node:
            _append_key(node, key, value)


def _merge_value(old: Any, new: Any, full: Any) -> Any:
    if isinstance(old, CommentedMap) and isinstance(new, Mapping):
        merge_map(old, new, full if isinstance(full, Mapping) else None)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        full_items = full if isinstance(full, list) and len(full) == len(new) else [None] * len(new)
        for index in range(min(len(old), len(new))):
            merged = _merge_value(old[index], new[index], full_items[index])
            if merged is not old[index]:
                old[index] = merged
        if len(old) != len(new):
            # The lines after the list are about the next key: keep them after it.
            tail = _tail(old)
            following = _split_comment(_get_comment(tail))[1] if tail else ""
            if tail and following:
                _set_comment(tail, _split_comment(_get_comment(tail))[0] or "\n")
            while len(old) > len(new):
                del old[len(old) - 1]
            for item in new[len(old) :]:
                old.append(new_node(item))
            new_tail = _tail(old)
            if new_tail and following:
                own_line = _split_comment(_get_comment(new_tail))[0]
                _set_comment(new_tail, (own_line or "\n") + following)
        return old
    if plain(old) == new and type(plain(old)) is type(new):
        return old
    if isinstance(new, str) and isinstance(old, _QUOTED):
        return type(old)(new)
    return new_node(new)


def new_node(value: Any) -> Any:
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            node[key] = new_node(item)
        return node
    if isinstance(value, list):
        return CommentedSeq(new_node(item) for item in value)
    if isinstance(value, str) and _needs_quotes(value):
        # House style (the reference files): quoted scalars use double quotes.
        return DoubleQuotedScalarString(value)
    return value


def _needs_quotes(value: str) -> bool:
    out = io.StringIO()
    YAML(typ="rt").dump({"k": value}, out)
    return out.getvalue()[3:4] in ("'", '"')


def _tail(node: Any) -> tuple[Any, Any, int] | None:
    """Where the comment after *node*'s last scalar lives: (container, key, slot)."""
    if isinstance(node, CommentedMap) and len(node):
        last = list(node)[-1]
        return _tail(node[last]) or (node, last, 2)
    if isinstance(node, CommentedSeq) and len(node):
        last_index = len(node) - 1
        return _tail(node[last_index]) or (node, last_index, 0)
    return None


def _entry_tail(container: CommentedMap, key: Any) -> tuple[Any, Any, int]:
    return _tail(container[key]) or (container, key, 2)


def _get_comment(where: tuple[Any, Any, int]) -> str:
    container, key, slot = where
    entry = container.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    return token.value if isinstance(token, CommentToken) else ""


def _set_comment(where: tuple[Any, Any, int], value: str) -> None:
    container, key, slot = where
    entry = container.ca.items.get(key)
    if value in ("", "\n"):
        if entry and len(entry) > slot:
            entry[slot] = None
            if not any(entry):
                del container.ca.items[key]
        return
    if entry is None:
        entry = [None, None, None, None] if slot == 2 else [None, None]
        container.ca.items[key] = entry
    entry[slot] = CommentToken(value, CommentMark(0), None)


def _split_comment(value: str) -> tuple[str, str]:
    """(end of the value's own line, the full comment lines after it)."""
    if not value:
        return "", ""
    head, newline, rest = value.partition("\n")
    return head + newline, rest


def _delete_key(node: CommentedMap, key: Any) -> None:
    keys = list(node)
    index = keys.index(key)
    _own, following = _split_comment(_get_comment(_entry_tail(node, key)))
    if index > 0:
        previous = _entry_tail(node, keys[index - 1])
        # The previous key's trailing lines were about the deleted key; what
        # followed the deleted key is about the next one.
        own_line, _about_deleted = _split_comment(_get_comment(previous))
        _set_comment(previous, (own_line or "\n") + following)
    del node[key]


def _append_key(node: CommentedMap, key: Any, value: Any) -> None:
    keys = list(node)
    following = ""
    if keys:
        last = _entry_tail(node, keys[-1])
        own_line, following = _split_comment(_get_comment(last))
        _set_comment(last, own_line or "\n")
    node[key] = new_node(value)
    if following:
        _set_comment(_entry_tail(node, key), "\n" + following)
