"""Which version of each file production gets at promotion."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from infra.core.promotion import promoted_content

PREVIEW_DEFAULTS = {"home.html": "p-home", "help.html": "p-help", "styles.css": "same"}
PRODUCTION_DEFAULTS = {"home.html": "P-home", "help.html": "P-help", "styles.css": "same"}


def test_unedited_files_come_from_production_defaults():
    result = promoted_content(PREVIEW_DEFAULTS, PREVIEW_DEFAULTS, PRODUCTION_DEFAULTS)
    assert result.files == PRODUCTION_DEFAULTS
    assert not result.from_preview


def test_edited_and_added_files_come_from_preview():
    preview = {**PREVIEW_DEFAULTS, "home.html": "client-home", "map.html": "client-map"}
    result = promoted_content(preview, PREVIEW_DEFAULTS, PRODUCTION_DEFAULTS)
    assert result.files["home.html"] == "client-home"
    assert result.files["map.html"] == "client-map"
    assert result.files["help.html"] == "P-help"
    assert result.from_preview == {"home.html", "map.html"}


def test_files_removed_in_preview_stay_removed():
    preview = {k: v for k, v in PREVIEW_DEFAULTS.items() if k != "help.html"}
    assert "help.html" not in promoted_content(preview, PREVIEW_DEFAULTS, PRODUCTION_DEFAULTS).files


keys = st.sampled_from(["a", "b", "c", "d", "e"])
digests = st.sampled_from(["1", "2", "3"])


@given(
    st.dictionaries(keys, digests),
    st.dictionaries(keys, digests),
    st.dictionaries(keys, digests),
)
def test_promotion_keeps_exactly_preview_keys(preview, preview_defaults, production_defaults):
    result = promoted_content(preview, preview_defaults, production_defaults)
    assert set(result.files) == set(preview)
    for key in result.from_preview:
        assert result.files[key] == preview[key]
