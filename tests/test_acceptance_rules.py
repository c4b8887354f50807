"""The pure rule of a client's acceptance (infra.core.acceptance): it holds only for exactly
the release and configuration the accepted run checked, and says which changed."""

from __future__ import annotations

from datetime import UTC, datetime

from infra.core.acceptance import AcceptedRun, VerifiedState, acceptance_problems

CHECKED = VerifiedState("r1", "c" * 64, "f" * 64, {"lots": "1" * 64, "permit_types": "2" * 64})
RUN = AcceptedRun("20261207T020000Z-abcdef", "Dana", datetime(2026, 12, 7, tzinfo=UTC), True,
                  CHECKED)  # fmt: skip


def test_the_acceptance_holds_for_exactly_what_the_run_checked():
    assert acceptance_problems("demo", RUN, CHECKED, "push:x") == []


def test_no_acceptance_says_how_to_make_one():
    (problem,) = acceptance_problems("demo", None, CHECKED, "create")
    assert "`tenantctl rollout accept demo --by NAME --evidence RUN`" in problem


def test_another_release_names_what_made_it():
    now = VerifiedState("r2", "d" * 64, CHECKED.config_hash, CHECKED.config_tables)
    (pushed,) = acceptance_problems("demo", RUN, now, "push:content")
    (reset,) = acceptance_problems("demo", RUN, now, "reset")
    assert pushed.startswith("preview serves release r2 (from a content push), not r1 that run")
    assert "(from a reset-preview)" in reset


def test_a_configuration_edit_names_the_tables():
    tables = {"lots": "1" * 64, "permit_types": "3" * 64, "terms": "4" * 64}
    now = VerifiedState("r1", CHECKED.content_hash, "e" * 64, tables)
    (problem,) = acceptance_problems("demo", RUN, now, "push:x")
    assert problem.startswith("preview's configuration changed (permit_types, terms) since run")


def test_the_same_release_id_with_other_files_is_refused():
    now = VerifiedState("r1", "0" * 64, CHECKED.config_hash, CHECKED.config_tables)
    (problem,) = acceptance_problems("demo", RUN, now, "push:x")
    assert problem.startswith("release r1's files differ")
