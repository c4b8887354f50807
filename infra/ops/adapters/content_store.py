"""A stack's portal content bucket: defaults, blobs, releases and the current pointer.

Releases are content-addressed (see ``infra.core.content_model``): a release is one
immutable manifest object naming a blob per key, so publishing copies only
blobs the bucket does not have yet, and switching the portal to a release is a
single PUT of ``current.json``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.content_model import (
    ContentError,
    Current,
    Release,
    check_release_id,
    content_hash,
    content_manifest,
    content_type,
    dump_json,
    iso8601,
    load_json,
    new_release_id,
    parse_manifest,
    utc_now,
)
from infra.core.verify_checks import EVIDENCE_PREFIX
from infra.ops.adapters.aws import MAX_CONCURRENCY

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
_JSON = "application/json"
_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict"}
"""What S3 answers a conditional write whose condition failed (or raced another)."""


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


_DELETE_BATCH = 1000  # the most S3 DeleteObjects takes in one request


class ContentStore:
    """Everything tenantctl reads and writes in one content bucket."""

    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self.s3 = s3_client
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"ContentStore(bucket={self.bucket!r})"

    # ------------------------------------------------------------------ S3 helpers

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _error(self, exc: ClientError, key: str, doing: str) -> ContentError:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "NoSuchBucket":
            return ContentError(
                f"bucket {self.bucket!r} does not exist (while {doing} {key!r}); "
                "check the stack is up and AWS_ENDPOINT_URL/AWS_REGION point at it"
            )
        if code in {"AccessDenied", "403"}:
            return ContentError(f"access denied {doing} {self._where(key)}; check credentials")
        return ContentError(f"{doing} {self._where(key)} failed: {code or exc}")

    def _get(self, key: str) -> bytes | None:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_KEY:
                return None
            raise self._error(exc, key, "reading") from None
        return response["Body"].read()

    def _get_with_etag(self, key: str) -> tuple[bytes | None, str | None]:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_KEY:
                return None, None
            raise self._error(exc, key, "reading") from None
        return response["Body"].read(), response["ETag"]

    def _require(self, key: str, hint: str = "") -> bytes:
        body = self._get(key)
        if body is None:
            raise ContentError(f"{self._where(key)} does not exist{hint}")
        return body

    def _put(self, key: str, body: bytes, content_type: str, **extra: Any) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **extra
            )
        except ClientError as exc:
            raise self._error(exc, key, "writing") from None

    def _put_if(self, key: str, body: bytes, condition: Mapping[str, Any], **extra: Any) -> bool:
        """A conditional PUT (``IfNoneMatch="*"``: only when absent; ``IfMatch=<etag>``: only
        when unchanged); ``False`` when the condition failed (someone else wrote first)."""
        try:
            self.s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=_JSON, **condition, **extra
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONDITION_FAILED:
                return False
            raise self._error(exc, key, "writing") from None
        return True

    def _keys(self, prefix: str) -> Iterable[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except ClientError as exc:
            raise self._error(exc, prefix, "listing") from None

    def existing_blobs(self) -> set[str]:
        """Hashes of every blob in the bucket (one listing, not a HEAD per blob)."""
        start = len(naming.BLOBS_PREFIX)
        return {key[start:] for key in self._keys(naming.BLOBS_PREFIX)}

    def _parallel(self, work: Callable[[Any], None], items: Iterable[Any]) -> None:
        items = list(items)
        if not items:
            return
        if len(items) == 1:
            work(items[0])
            return
        with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENCY, len(items))) as pool:
            # list() re-raises the first worker exception here.
            list(pool.map(work, items))

    def _copy_blob(self, source_bucket: str, source_key: str, digest: str) -> None:
        """Server-side copy into ``blobs/sha256/<digest>``, verified by S3's own SHA-256."""
        target = naming.blob_key(digest)
        try:
            response = self.s3.copy_object(
                Bucket=self.bucket,
                Key=target,
                CopySource={"Bucket": source_bucket, "Key": source_key},
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_KEY:
                raise ContentError(
                    f"s3://{source_bucket}/{source_key} does not exist but a manifest lists it"
                ) from None
            raise self._error(
                exc, target, f"copying s3://{source_bucket}/{source_key} to"
            ) from None
        checksum = response.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if checksum is not None and checksum != _b64(digest):
            # Never leave a blob whose name is not its content.
            self.s3.delete_object(Bucket=self.bucket, Key=target)
            raise ContentError(
                f"s3://{source_bucket}/{source_key} does not match its manifest hash "
                f"{digest[:12]}…; is a `pulumi up` writing defaults right now? Run again after it"
            )

    def _upload_blob(self, digest: str, body: bytes, key_hint: str) -> None:
        # S3 rejects the PUT if the bytes it receives do not hash to the checksum sent.
        self._put(
            naming.blob_key(digest),
            body,
            content_type(key_hint),
            ChecksumSHA256=_b64(digest),
        )

    def _write_release(self, release: Release) -> Release:
        """Write *release*'s manifest unless one exists; an existing equal release is reused."""
        key = naming.release_manifest_key(release.id)
        if not self._put_if(key, release.to_json(), {"IfNoneMatch": "*"}):
            existing = self.release(release.id)
            if existing is not None and dict(existing.files) == dict(release.files):
                return existing
            raise ContentError(
                f"release {release.id!r} already exists in bucket {self.bucket!r} "
                "with different files; releases are immutable, pick another id"
            )
        return release

    def _existing_release(self, release_id: str, files: Mapping[str, str]) -> Release | None:
        existing = self.release(release_id)
        if existing is None:
            return None
        if dict(existing.files) != dict(files):
            raise ContentError(
                f"release {release_id!r} already exists in bucket {self.bucket!r} "
                "with different files; releases are immutable, pick another id"
            )
        return existing

    # --------------------------------------------------------------------- defaults

    def defaults_manifest(self) -> dict[str, str]:
        key = naming.MANIFEST_KEY
        body = self._require(key, "; run `pulumi up` for this stack to write the defaults")
        return parse_manifest(load_json(body, self._where(key)), self._where(key))

    def upload_defaults(self, files: Mapping[str, bytes]) -> dict[str, str]:
        """Write ``defaults/<key>`` for *files* and then the manifest (local target only).

        On AWS, Pulumi owns ``defaults/``. Objects of keys no longer in *files*
        are removed after the new manifest is in place, as Pulumi would.
        """
        manifest = content_manifest(files)
        self._parallel(
            lambda key: self._put(naming.DEFAULTS_PREFIX + key, files[key], content_type(key)),
            manifest,
        )
        self._put(naming.MANIFEST_KEY, dump_json(manifest), _JSON)
        wanted = {naming.DEFAULTS_PREFIX + key for key in manifest} | {naming.MANIFEST_KEY}
        stale = [k for k in self._keys(naming.DEFAULTS_PREFIX) if k not in wanted]
        for start in range(0, len(stale), _DELETE_BATCH):
            self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={
                    "Objects": [{"Key": k} for k in stale[start : start + _DELETE_BATCH]],
                    "Quiet": True,
                },
            )
        return manifest

    # --------------------------------------------------------------------- releases

    def publish_from_defaults(
        self, source: str = "defaults", release_id: str | None = None
    ) -> Release:
        """A new release of exactly the defaults; copies only blobs not stored yet."""
        manifest = self.defaults_manifest()
        release_id = check_release_id(release_id or new_release_id())
        existing = self._existing_release(release_id, manifest)
        if existing is not None:
            return existing
        have = self.existing_blobs()
        missing = {digest: key for key, digest in manifest.items() if digest not in have}
        self._parallel(
            lambda item: self._copy_blob(self.bucket, naming.DEFAULTS_PREFIX + item[1], item[0]),
            missing.items(),
        )
        return self._write_release(Release(release_id, iso8601(utc_now()), source, manifest))

    def publish(
        self,
        files: Mapping[str, bytes] | None = None,
        manifest: Mapping[str, str] | None = None,
        source: str = "upload",
        release_id: str | None = None,
    ) -> Release:
        """A new release from explicit content: *manifest* with *files* laid over it.

        *manifest* names blobs that must already be in the bucket (e.g. another
        release's files); *files* are uploaded as blobs unless a blob with the
        same hash exists, and replace *manifest*'s entry for the same key.
        """
        files = files or {}
        named = parse_manifest(dict(manifest or {}), "publish(manifest=...)")
        hashed = {key: content_hash(body) for key, body in files.items()}
        combined = parse_manifest({**named, **hashed}, "publish")
        release_id = check_release_id(release_id or new_release_id())
        existing = self._existing_release(release_id, combined)
        if existing is not None:
            return existing
        have = self.existing_blobs()
        absent = sorted({d for k, d in named.items() if d not in have and k not in hashed})
        if absent:
            raise ContentError(
                f"publish: bucket {self.bucket!r} has no blob "
                f"{naming.blob_key(absent[0])}"
                + (f" (and {len(absent) - 1} more)" if len(absent) > 1 else "")
            )
        uploads: dict[str, str] = {}
        for key, digest in hashed.items():
            if digest not in have:
                uploads.setdefault(digest, key)
        self._parallel(
            lambda item: self._upload_blob(item[0], files[item[1]], item[1]), uploads.items()
        )
        return self._write_release(Release(release_id, iso8601(utc_now()), source, combined))

    def release(self, release_id: str) -> Release | None:
        key = naming.release_manifest_key(check_release_id(release_id))
        body = self._get(key)
        return None if body is None else Release.from_json(body, self._where(key))

    def releases(self) -> list[str]:
        """Every release id, oldest first (generated ids sort by time)."""
        ids: set[str] = set()
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=naming.RELEASES_PREFIX, Delimiter="/"
            ):
                for common in page.get("CommonPrefixes", []):
                    ids.add(common["Prefix"][len(naming.RELEASES_PREFIX) :].rstrip("/"))
        except ClientError as exc:
            raise self._error(exc, naming.RELEASES_PREFIX, "listing") from None
        return sorted(ids)

    def read(self, release_id: str, key: str) -> bytes:
        """The bytes of *key* in release *release_id*."""
        release = self.release(release_id)
        if release is None:
            raise ContentError(
                f"{self._where(naming.release_manifest_key(release_id))} does not exist"
            )
        digest = release.files.get(key)
        if digest is None:
            raise ContentError(f"release {release_id!r} in bucket {self.bucket!r} has no {key!r}")
        return self._require(naming.blob_key(digest), f" (listed as {key!r} in {release_id!r})")

    def import_release(
        self,
        new_id: str,
        files: Mapping[str, str],
        sources: Mapping[str, tuple[str, str]],
        source_label: str,
    ) -> Release:
        """Write release *new_id* of *files*, first copying blobs this bucket lacks.

        *sources* maps a digest to the ``(bucket, key)`` holding those bytes.
        Idempotent: an existing release *new_id* with the same files is returned.
        """
        check_release_id(new_id)
        existing = self._existing_release(new_id, files)
        if existing is not None:
            return existing
        have = self.existing_blobs()
        missing = sorted({d for d in files.values() if d not in have})
        unknown = [d for d in missing if d not in sources]
        if unknown:
            raise ContentError(f"import {new_id}: no source for blob {naming.blob_key(unknown[0])}")
        self._parallel(
            lambda digest: self._copy_blob(sources[digest][0], sources[digest][1], digest),
            missing,
        )
        return self._write_release(Release(new_id, iso8601(utc_now()), source_label, dict(files)))

    # ---------------------------------------------------------------------- current

    def current(self) -> Current | None:
        body = self._get(naming.CURRENT_KEY)
        return None if body is None else Current.from_json(body, self._where(naming.CURRENT_KEY))

    def switch(self, release_id: str, previous: str | None = None) -> Current:
        """Point ``current.json`` at *release_id* with one PUT.

        *previous* defaults to the release served until now, so going back is
        ``switch(current().previous)``. The PUT is conditional on
        ``current.json`` not having changed since it was read.
        """
        if self.release(release_id) is None:
            raise ContentError(
                f"cannot switch to release {release_id!r}: "
                f"{self._where(naming.release_manifest_key(release_id))} does not exist"
            )
        body, etag = self._get_with_etag(naming.CURRENT_KEY)
        if previous is None and body is not None:
            previous = Current.from_json(body, self._where(naming.CURRENT_KEY)).release
        current = Current(release_id, previous, iso8601(utc_now()))
        condition: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        if not self._put_if(
            naming.CURRENT_KEY, current.to_json(), condition, CacheControl="no-cache"
        ):
            raise ContentError(
                f"{self._where(naming.CURRENT_KEY)} changed while switching to "
                f"{release_id!r}; someone else switched it. Check `current` and run again"
            )
        return current

    # ---------------------------------------------------------------------- evidence

    def put_evidence(self, key: str, body: bytes, content_type: str) -> None:
        """One file of a ``tenantctl verify`` evidence bundle (``verify/<run id>/...``):
        beside the releases, never one of them."""
        if not key.startswith(EVIDENCE_PREFIX):
            raise ValueError(f"evidence key {key!r} is not under {EVIDENCE_PREFIX}")
        self._put(key, body, content_type)

    def get_evidence(self, key: str) -> bytes | None:
        return self._get(key) if key.startswith(EVIDENCE_PREFIX) else None

    def evidence_runs(self) -> list[str]:
        """The run id of every evidence bundle, oldest first (run ids sort by time)."""
        ids: set[str] = set()
        paginator = self.s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(
                Bucket=self.bucket, Prefix=EVIDENCE_PREFIX, Delimiter="/"
            ):
                for common in page.get("CommonPrefixes", []):
                    ids.add(common["Prefix"][len(EVIDENCE_PREFIX) :].rstrip("/"))
        except ClientError as exc:
            raise self._error(exc, EVIDENCE_PREFIX, "listing") from None
        return sorted(ids)

    # ---------------------------------------------------------------------- records

    def get_record(self, name: str) -> dict[str, Any] | None:
        key = naming.record_key(name)
        body = self._get(key)
        if body is None:
            return None
        data = load_json(body, self._where(key))
        if not isinstance(data, dict):
            raise ContentError(f"{self._where(key)}: expected a JSON object")
        return data

    def put_record(self, name: str, data: Mapping[str, Any]) -> None:
        self._put(naming.record_key(name), dump_json(dict(data)), _JSON)
