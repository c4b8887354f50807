"""ContentStore against a real S3 API (moto server), reached through AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from infra.core import naming
from infra.core.content_model import ContentError
from infra.ops.adapters import aws
from infra.ops.adapters.content_store import ContentStore

DEFAULTS = {
    "portal/home.html": b"<h1>Welcome</h1>",
    "portal/help.html": b"<p>Help</p>",
    "email/receipt.txt": b"Thanks for your payment of ${amount}.",
    "messages/portal.json": b'{"closed": "The office is closed."}',
}


class CallCounter:
    """Counts the S3 operations a client sends (observes; the requests still go to moto)."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.s3.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


def make_store(bucket: str) -> ContentStore:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    return ContentStore(s3, bucket)


@pytest.fixture
def store(aws_env: str) -> ContentStore:
    store = make_store(naming.content_bucket("acme", naming.PREVIEW, "0" * 8))
    store.upload_defaults(DEFAULTS)
    return store


def blob_count(store: ContentStore) -> int:
    return len(store.existing_blobs())


# -------------------------------------------------------------------- publish


def test_publish_from_defaults_makes_a_release_of_the_defaults_manifest(
    store: ContentStore,
) -> None:
    release = store.publish_from_defaults()

    assert release.files == store.defaults_manifest()
    assert store.release(release.id) == release
    assert {key: store.read(release.id, key) for key in DEFAULTS} == DEFAULTS


def test_publish_from_defaults_again_copies_no_blobs(store: ContentStore) -> None:
    store.publish_from_defaults()
    counter = CallCounter(store.s3)

    second = store.publish_from_defaults()

    assert counter.calls["CopyObject"] == 0
    assert blob_count(store) == len(DEFAULTS)
    assert second.files == store.defaults_manifest()


def test_publish_from_defaults_stores_equal_content_once(aws_env: str) -> None:
    store = make_store("acme-dup")
    store.upload_defaults({"a.txt": b"same", "b.txt": b"same", "c.txt": b"other"})

    store.publish_from_defaults()

    assert blob_count(store) == 2


def test_publish_from_defaults_copies_only_changed_files(store: ContentStore) -> None:
    store.publish_from_defaults()
    store.upload_defaults({**DEFAULTS, "portal/home.html": b"<h1>New</h1>"})
    counter = CallCounter(store.s3)

    store.publish_from_defaults()

    assert counter.calls["CopyObject"] == 1


def test_publish_from_defaults_refuses_a_default_that_does_not_match_its_hash(
    store: ContentStore,
) -> None:
    store.s3.put_object(
        Bucket=store.bucket, Key=naming.DEFAULTS_PREFIX + "portal/home.html", Body=b"tampered"
    )

    with pytest.raises(ContentError, match="does not match its manifest hash"):
        store.publish_from_defaults()

    digest = store.defaults_manifest()["portal/home.html"]
    assert digest not in store.existing_blobs()


def test_publish_from_defaults_with_a_given_id_is_idempotent(store: ContentStore) -> None:
    first = store.publish_from_defaults(release_id="promotion-1")

    again = store.publish_from_defaults(release_id="promotion-1")

    assert again == first


def test_publish_uploads_new_bytes_and_reuses_existing_blobs(store: ContentStore) -> None:
    base = store.publish_from_defaults()
    counter = CallCounter(store.s3)

    release = store.publish(
        files={"portal/home.html": b"<h1>Edited</h1>"},
        manifest={k: v for k, v in base.files.items() if k != "portal/home.html"},
        source="editor",
    )

    assert counter.calls["PutObject"] == 2  # one new blob, one manifest
    assert store.read(release.id, "portal/home.html") == b"<h1>Edited</h1>"
    assert store.read(release.id, "portal/help.html") == DEFAULTS["portal/help.html"]
    assert release.source == "editor"


def test_publish_naming_a_missing_blob_fails(store: ContentStore) -> None:
    with pytest.raises(ContentError, match=re.escape("has no blob blobs/sha256/")):
        store.publish(manifest={"x.txt": "0" * 64})


def test_publish_with_an_existing_id_and_other_files_fails(store: ContentStore) -> None:
    store.publish(files={"a.txt": b"a"}, release_id="r1")

    with pytest.raises(ContentError, match="already exists"):
        store.publish(files={"a.txt": b"b"}, release_id="r1")


def test_releases_lists_ids_in_order(store: ContentStore) -> None:
    ids = [store.publish(files={"a.txt": bytes([n])}, release_id=f"r{n}").id for n in (3, 1, 2)]

    assert store.releases() == sorted(ids)


# --------------------------------------------------------------------- switch


def test_switch_is_one_put_and_current_reads_it_back(store: ContentStore) -> None:
    release = store.publish_from_defaults()
    counter = CallCounter(store.s3)

    store.switch(release.id)

    assert counter.calls["PutObject"] == 1
    current = store.current()
    assert current is not None
    assert (current.release, current.previous) == (release.id, None)


def test_switch_records_the_release_it_replaces(store: ContentStore) -> None:
    first = store.publish_from_defaults()
    second = store.publish(files={"a.txt": b"a"})
    store.switch(first.id)

    store.switch(second.id)

    current = store.current()
    assert current is not None
    assert (current.release, current.previous) == (second.id, first.id)


def test_switch_writes_the_documented_current_json(store: ContentStore) -> None:
    release = store.publish_from_defaults()

    store.switch(release.id, previous="older")

    body = store.s3.get_object(Bucket=store.bucket, Key=naming.CURRENT_KEY)["Body"].read()
    assert set(json.loads(body)) == {"release", "previous", "switchedAt"}


def test_switch_to_a_missing_release_fails(store: ContentStore) -> None:
    with pytest.raises(ContentError, match="nope"):
        store.switch("nope")


def test_current_is_none_before_the_first_switch(store: ContentStore) -> None:
    assert store.current() is None


# ----------------------------------------------------------------- cross-bucket


# ------------------------------------------------------------- diff, records


def test_records_round_trip_under_the_state_prefix(store: ContentStore) -> None:
    store.put_record("last-reset", {"release": "r1", "at": "2026-11-24T01:00:00Z"})

    assert store.get_record("last-reset") == {"release": "r1", "at": "2026-11-24T01:00:00Z"}
    assert store.get_record("never-written") is None
    keys = [o["Key"] for o in store.s3.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert naming.STATE_PREFIX + "last-reset.json" in keys


# --------------------------------------------------------------------- errors


def test_a_missing_bucket_is_named_in_the_error(aws_env: str) -> None:
    store = ContentStore(aws.client("s3"), "acme-missing-content")

    with pytest.raises(ContentError, match="bucket 'acme-missing-content' does not exist"):
        store.publish_from_defaults()


def test_missing_defaults_name_the_manifest_key(aws_env: str) -> None:
    store = make_store("acme-empty-content")

    with pytest.raises(
        ContentError, match=re.escape("s3://acme-empty-content/defaults/manifest.json")
    ):
        store.publish_from_defaults()


def test_reading_a_key_the_release_lacks_names_it(store: ContentStore) -> None:
    release = store.publish_from_defaults()

    with pytest.raises(ContentError, match=re.escape("'portal/missing.html'")):
        store.read(release.id, "portal/missing.html")
