"""Observed rollout tasks, checked against the real systems every time.

Each check (``infra.core.rollout.CHECKS``) reuses the operations that already
reach the system it looks at: stack handles, ACM, the payment secret, the
content store, the databases, ``promote``'s dry run. A check that cannot reach
its system says ``unknown`` with the reason; it never fails the whole status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg

from infra.core import naming
from infra.core.config_diff import diff_config
from infra.core.integration_config import readiness_problems
from infra.core.integrations.roundtrip import no_round_trip
from infra.core.rollout import CHECKS, Observation
from infra.ops.adapters import aws
from infra.ops.adapters.config_tables import read_config
from infra.ops.adapters.database import database_url
from infra.ops.adapters.payment_store import credentials_mode
from infra.ops.content.imports import recorded_imports
from infra.ops.lifecycle.domain import certificate_status
from infra.ops.lifecycle.integration_config import read_lots
from infra.ops.lifecycle.promote_plan import Precondition, check_preconditions
from infra.ops.rollout import integration_tests
from infra.ops.rollout.acceptance import acceptance_observation, observe_testing
from infra.ops.rollout.training import observe_training
from infra.ops.stacks.handle import StackHandle
from infra.ops.stacks.opening import open_from_files

_MISSING = object()


class _Systems:
    """The two stacks of one client, opened lazily, once (or given, already open), and
    promote's preconditions, evaluated once (or given, already evaluated)."""

    def __init__(
        self,
        stacks_dir: Path,
        slug: str,
        handles: dict[naming.Stage, StackHandle] | None = None,
        preconditions: Sequence[Precondition] | None = None,
    ) -> None:
        self.stacks_dir = stacks_dir
        self.slug = slug
        self._handles: dict[naming.Stage, StackHandle] = dict(handles or {})
        self._preconditions = preconditions

    def stack(self, stage: naming.Stage) -> StackHandle:
        if stage not in self._handles:
            self._handles[stage] = open_from_files(self.stacks_dir, self.slug, stage)
        return self._handles[stage]

    @property
    def preconditions(self) -> Sequence[Precondition]:
        if self._preconditions is None:
            self._preconditions = check_preconditions(
                self.stack(naming.PREVIEW), self.stack(naming.PRODUCTION)
            )
        return self._preconditions


def _stacks_deployed(s: _Systems) -> Observation:
    for stage in naming.STAGES:
        if not naming.stack_file(s.stacks_dir, s.slug, stage).exists():
            return Observation("not-done", f"no stack file for {s.slug}-{stage}")
        if s.stack(stage).content.current() is None:
            return Observation("not-done", f"{s.slug}-{stage} not deployed (no content release)")
    return Observation("done", "both stacks deployed")


def _certificates(s: _Systems) -> Observation:
    """Platform hosts are served by the platform's wildcard certificate; what a client's
    rollout waits for is the certificate of its own portal domain (production, us-east-1,
    requested by ``tenantctl domain request-certificate``)."""
    handle = s.stack(naming.PRODUCTION)
    domain = handle.spec.portal_domain
    if domain:
        status, _ = certificate_status(handle)
        if status is None:
            return Observation(
                "not-done",
                f"no certificate requested for {domain} yet "
                f"(`tenantctl domain request-certificate {s.slug}`)",
            )
        if status != "ISSUED":
            return Observation("not-done", f"the certificate of {domain} is {status}")
    return Observation("done", "certificates issued (client domain validated)")


def _admins(s: _Systems) -> Observation:
    for stage in naming.STAGES:
        handle = s.stack(stage)
        pool = (handle.outputs or {}).get("userPoolId")
        if not pool:
            return Observation("unknown", f"no user pool in the outputs of {handle.stack_name}")
        idp = aws.client("cognito-idp", handle.region)
        for admin in handle.spec.admins:
            found = idp.list_users(UserPoolId=pool, Filter=f'email = "{admin.email}"')
            if not found.get("Users"):
                return Observation("not-done", f"{admin.email} has no account in {stage}")
    return Observation("done", "administrator accounts exist")


def _payment_sandbox(s: _Systems) -> Observation:
    handle = s.stack(naming.PREVIEW)
    mode = credentials_mode(handle.secrets, handle.spec)
    if mode is None:
        return Observation("not-done", "preview has no payment credentials")
    return Observation("done", f"preview payment credentials present ({mode})")


def _payment_live(s: _Systems) -> Observation:
    handle = s.stack(naming.PRODUCTION)
    mode = credentials_mode(handle.secrets, handle.spec)
    if mode is None:
        return Observation("not-done", "production has no payment credentials")
    if mode == "sandbox":
        return Observation("not-done", "production payment credentials are sandbox")
    return Observation("done", f"production payment credentials present ({mode})")


def _content_edited(s: _Systems) -> Observation:
    store = s.stack(naming.PREVIEW).content
    current = store.current()
    if current is None:
        return Observation("not-done", "preview has no content release")
    release = store.release(current.release)
    if release is not None and dict(release.files) != dict(store.defaults_manifest()):
        return Observation("done", f"preview release {current.release} differs from defaults")
    return Observation("not-done", "preview content equals the defaults")


def _config_edited(s: _Systems) -> Observation:
    handle = s.stack(naming.PREVIEW)
    defaults = naming.defaults_database_name(s.slug, naming.PREVIEW)
    if not handle.database.exists(handle.working_database):
        return Observation("not-done", "preview has no working database")
    with psycopg.connect(handle.working_url) as conn:
        working = read_config(conn)
    with psycopg.connect(database_url(handle.admin_url, defaults)) as conn:
        baseline = read_config(conn)
    changed = [
        t for t, d in diff_config(working, baseline).items() if d.added or d.changed or d.removed
    ]
    if changed:
        return Observation("done", f"configuration edited ({', '.join(sorted(changed))})")
    return Observation("not-done", "preview configuration equals the defaults")


def _imports(s: _Systems) -> Observation:
    handle = s.stack(naming.PREVIEW)
    if not handle.database.exists(handle.working_database):
        return Observation("not-done", "preview has no working database")
    records = recorded_imports(handle)
    if not records:
        return Observation("not-done", "no import recorded in preview (tenantctl import)")
    kinds = sorted({r.kind for r in records})
    return Observation("done", f"{len(records)} import(s) recorded in preview: {', '.join(kinds)}")


def _dry_run(s: _Systems) -> Observation:
    failed = [c for c in s.preconditions if not c.ok]
    if failed:
        return Observation("not-done", f"promote --dry-run: {failed[0].message}")
    return Observation("done", "promote --dry-run meets every precondition")


def _integrations_verified(s: _Systems) -> Observation:
    """Every integration of the preview (what promote carries) has its vendor zones mapped
    or ignored, onto lots the preview has, and a passing ``tenantctl integration test``
    round trip recorded on its current configuration (so since its last config change)
    and on the release preview serves (the one promote would carry)."""
    handle = s.stack(naming.PREVIEW)
    integrations = list(handle.spec.integrations)
    if not integrations:
        return Observation("done", "no integrations configured (not applicable)")
    lots = {lot.code for lot in read_lots(handle.working_url)}
    problems = readiness_problems(integrations, lots)
    current = handle.content.current()
    release = current.release if current else None
    testable = [i for i in integrations if no_round_trip(i) is None]
    untested = integration_tests.untested(s.slug, testable, release)
    if untested is None:
        return Observation("unknown", "no control database: round trips cannot be read")
    for u in untested:
        rerun = f"`{naming.TOOL} integration test {s.slug} {u.integration}`"
        if u.last_release is None:
            problems.append(f"{u.integration}: no passing {rerun} since its last config change")
        else:
            problems.append(
                f"{u.integration}: its last passing round trip was on release "
                f"{u.last_release}, preview serves {release or 'no release'}: re-run {rerun}"
            )
    if problems:
        return Observation("not-done", "; ".join(problems))
    zones = sum(len(i.zones) for i in integrations)
    tested = f"{len(testable)} with a passing test round trip on release {release}"
    exempt = [f"{i.id} ({i.mode})" for i in integrations if no_round_trip(i) is not None]
    if exempt:
        tested += f"; round trip not applicable to {', '.join(exempt)} (no session path)"
    return Observation(
        "done",
        f"{len(integrations)} integration(s), all {zones} vendor zones mapped or ignored, {tested}",
    )


def _live(s: _Systems) -> Observation:
    if s.stack(naming.PRODUCTION).spec.live:
        return Observation("done", "production is live")
    return Observation("not-done", "production is not live yet")


def _verify_passed(s: _Systems) -> Observation:
    return observe_testing(s.stack(naming.PREVIEW))


def _verify_accepted(s: _Systems) -> Observation:
    return acceptance_observation(s.stack(naming.PREVIEW))


def _training_held(s: _Systems) -> Observation:
    return observe_training(s.slug)


CHECK_FUNCTIONS: dict[str, Callable[[_Systems], Observation]] = {
    "stacks-deployed": _stacks_deployed,
    "certificates-issued": _certificates,
    "admins-exist": _admins,
    "payment-sandbox": _payment_sandbox,
    "payment-live": _payment_live,
    "content-edited": _content_edited,
    "config-edited": _config_edited,
    "imports-recorded": _imports,
    "promote-dry-run-clean": _dry_run,
    "integrations-verified": _integrations_verified,
    "live-site-launched": _live,
    "verify-passed": _verify_passed,
    "verify-accepted": _verify_accepted,
    "training-held": _training_held,
}
assert set(CHECK_FUNCTIONS) == set(CHECKS), "every check in infra.core.rollout has a function"


def _observe(systems: _Systems, checks: set[str] | None) -> dict[str, Observation]:
    found: dict[str, Observation] = {}
    for name, check in CHECK_FUNCTIONS.items():
        if checks is not None and name not in checks:
            continue
        try:
            found[name] = check(systems)
        except Exception as exc:  # a system out of reach: unknown, not a failed status
            text = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
            found[name] = Observation("unknown", f"could not check: {text}")
    return found


def observer(stacks_dir: Path) -> Callable[[str, set[str] | None], dict[str, Observation]]:
    """A function checking one client's systems (all checks, or the named ones)."""

    def observe(slug: str, checks: set[str] | None = None) -> dict[str, Observation]:
        return _observe(_Systems(stacks_dir, slug), checks)

    return observe


def observe_opened(
    stacks_dir: Path,
    preview: StackHandle,
    production: StackHandle,
    preconditions: Sequence[Precondition],
    checks: set[str] | None = None,
) -> dict[str, Observation]:
    """The checks on a client whose handles are open and whose promote preconditions are
    evaluated already (promote's gate): neither is opened or evaluated again."""
    handles = {naming.PREVIEW: preview, naming.PRODUCTION: production}
    systems = _Systems(stacks_dir, preview.spec.slug, handles, preconditions)
    return _observe(systems, checks)
