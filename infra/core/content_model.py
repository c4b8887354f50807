"""The content-addressed release model, as plain data.

A stack's content bucket holds:

- ``defaults/<key>`` and ``defaults/manifest.json`` (``{key: sha256}``), written by Pulumi;
- ``blobs/sha256/<hash>``, every distinct file ever published, stored once;
- ``releases/<id>/manifest.json``, one immutable object per release (a ``Release``);
- ``current.json``, the release the portal serves (a ``Current``); switching is one PUT.

This module parses and serializes those objects, makes release ids and diffs
manifests. Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from infra.core.errors import TenantctlError

# ------------------------------------------------------------- hashing, types


def content_hash(data: bytes) -> str:
    """The SHA-256 hex digest that names a blob (``blobs/sha256/<digest>``)."""
    return hashlib.sha256(data).hexdigest()


def content_manifest(files: Mapping[str, bytes]) -> dict[str, str]:
    """``{key: sha256}`` for a set of files, in key order."""
    return {key: content_hash(files[key]) for key in sorted(files)}


_TEXT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".svg": "image/svg+xml",
    ".xml": "application/xml",
    ".sql": "application/sql",
}
_TEXTUAL = {"application/json", "application/xml", "application/sql", "image/svg+xml"}


def content_type(key: str) -> str:
    """The Content-Type a file is stored and served with; text is always UTF-8."""
    guessed = _TEXT_TYPES.get(PurePosixPath(key).suffix.lower()) or mimetypes.guess_type(key)[0]
    if guessed is None:
        return "application/octet-stream"
    textual = guessed.startswith("text/") or guessed in _TEXTUAL
    return f"{guessed}; charset=utf-8" if textual else guessed


RELEASE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
"""Release ids are path segments: no slashes, nothing S3 or a shell would mangle."""
_HASH_PATTERN = re.compile(r"^[0-9a-f]{64}\Z")
_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


class ContentError(TenantctlError):
    """Content that is missing or malformed; the message names the bucket and key."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso8601(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_release_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A sortable release id: UTC timestamp plus a short random suffix.

    ``20261124T013501Z-3f9a1c``. Ids made later sort after ids made earlier
    (to the second; the suffix only keeps two ids of the same second apart).
    """
    moment = (now or utc_now()).astimezone(UTC)
    return f"{moment.strftime(_ID_TIME_FORMAT)}-{suffix or secrets.token_hex(3)}"


def release_id_problem(release_id: str) -> str | None:
    """Why *release_id* cannot name a release, or ``None`` when it can."""
    if not RELEASE_ID_PATTERN.fullmatch(release_id):
        return "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def check_release_id(release_id: str) -> str:
    problem = release_id_problem(release_id)
    if problem is not None:
        raise ContentError(f"release id {release_id!r} {problem}")
    return release_id


def parse_manifest(data: Any, where: str) -> dict[str, str]:
    """Validate a ``{key: sha256}`` mapping (already JSON-decoded) read from *where*."""
    if not isinstance(data, dict):
        raise ContentError(f"{where}: a manifest must be a JSON object of key -> sha256")
    for key, digest in data.items():
        if not isinstance(key, str) or not key or key.startswith("/"):
            raise ContentError(f"{where}: {key!r} is not a content key")
        if not isinstance(digest, str) or not _HASH_PATTERN.fullmatch(digest):
            raise ContentError(f"{where}: {key!r} has {digest!r}, not a lowercase hex sha256")
    return {key: data[key] for key in sorted(data)}


def load_json(body: bytes, where: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContentError(f"{where}: not valid JSON ({exc})") from None


def dump_json(data: Any) -> bytes:
    """Canonical JSON: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Release:
    """One immutable release: which blob each content key is."""

    id: str
    created_at: str
    source: str
    files: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return dump_json(
            {
                "id": self.id,
                "createdAt": self.created_at,
                "source": self.source,
                "files": dict(sorted(self.files.items())),
            }
        )

    @classmethod
    def from_json(cls, body: bytes, where: str) -> Release:
        data = load_json(body, where)
        if not isinstance(data, dict):
            raise ContentError(f"{where}: a release manifest must be a JSON object")
        missing = [k for k in ("id", "createdAt", "source", "files") if k not in data]
        if missing:
            raise ContentError(f"{where}: release manifest lacks {', '.join(missing)}")
        return cls(
            id=str(data["id"]),
            created_at=str(data["createdAt"]),
            source=str(data["source"]),
            files=parse_manifest(data["files"], where),
        )


@dataclass(frozen=True)
class Current:
    """What ``current.json`` says: the release served and the one before it."""

    release: str
    previous: str | None
    switched_at: str

    def to_json(self) -> bytes:
        return dump_json(
            {"release": self.release, "previous": self.previous, "switchedAt": self.switched_at}
        )

    @classmethod
    def from_json(cls, body: bytes, where: str) -> Current:
        data = load_json(body, where)
        if not isinstance(data, dict) or not isinstance(data.get("release"), str):
            raise ContentError(f"{where}: expected an object with a string 'release'")
        previous = data.get("previous")
        return cls(
            release=data["release"],
            previous=previous if isinstance(previous, str) else None,
            switched_at=str(data.get("switchedAt", "")),
        )


@dataclass(frozen=True)
class ContentDiff:
    """Keys added, changed (different hash) and removed going from one manifest to another."""

    added: list[str]
    changed: list[str]
    removed: list[str]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def diff_manifests(old: Mapping[str, str], new: Mapping[str, str]) -> ContentDiff:
    return ContentDiff(
        added=sorted(k for k in new if k not in old),
        changed=sorted(k for k in new if k in old and old[k] != new[k]),
        removed=sorted(k for k in old if k not in new),
    )
