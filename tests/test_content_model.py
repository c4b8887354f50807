"""The pure release model and config diff: no AWS, no database."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from infra.core.config_diff import ConfigSnapshot, TableDiff, diff_config
from infra.core.content_model import (
    ContentError,
    Current,
    Release,
    diff_manifests,
    new_release_id,
    parse_manifest,
)

H1, H2, H3 = "1" * 64, "2" * 64, "3" * 64


def test_new_release_ids_sort_by_time() -> None:
    early = new_release_id(datetime(2026, 11, 24, 1, 35, 1, tzinfo=UTC), "ffffff")
    late = new_release_id(datetime(2026, 11, 24, 1, 35, 2, tzinfo=UTC), "000000")

    assert early == "20261124T013501Z-ffffff"
    assert sorted([late, early]) == [early, late]


def test_release_round_trips_through_json() -> None:
    release = Release("r1", "2026-11-24T01:35:01Z", "defaults", {"b": H2, "a": H1})

    assert Release.from_json(release.to_json(), "test") == release


def test_current_round_trips_through_json() -> None:
    current = Current("r2", "r1", "2026-11-24T01:35:01Z")

    assert Current.from_json(current.to_json(), "test") == current


def test_parse_manifest_rejects_a_bad_hash() -> None:
    with pytest.raises(ContentError, match=re.escape("s3://b/defaults/manifest.json")):
        parse_manifest({"a": "abc"}, "s3://b/defaults/manifest.json")


def test_diff_manifests_sorts_each_list() -> None:
    diff = diff_manifests({"z": H1, "y": H1, "x": H1}, {"z": H2, "y": H2, "w": H3, "v": H3})

    assert (diff.added, diff.changed, diff.removed) == (["v", "w"], ["y", "z"], ["x"])


def test_diff_config_reports_rows_per_table() -> None:
    src: ConfigSnapshot = {"lots": {"A": ("A", 80), "C": ("C", 10)}, "settings": {"k": ("k", "v")}}
    dst: ConfigSnapshot = {"lots": {"A": ("A", 100), "B": ("B", 50)}, "settings": {"k": ("k", "v")}}

    assert diff_config(src, dst) == {
        "lots": TableDiff(added=["C"], changed=["A"], removed=["B"]),
        "settings": TableDiff(added=[], changed=[], removed=[]),
    }
