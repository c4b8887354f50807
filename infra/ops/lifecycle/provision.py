"""After a stack is deployed: the data-plane steps ``create`` finishes with.

``post_provision`` seeds the defaults template database from ``templates/db``,
creates the working database from it and publishes the first content release
from ``defaults/``. Every step checks what is already there, so running it
again changes nothing.
"""

from __future__ import annotations

from typing import Any

from infra.core import rendering
from infra.core.steps import Progress, StepLog, quiet
from infra.ops.adapters.checkpoints import checkpoint
from infra.ops.stacks.handle import StackHandle


def post_provision(handle: StackHandle, progress: Progress = quiet) -> list[dict[str, Any]]:
    """Defaults database, working database and first release; idempotent."""
    spec, log, databases = handle.spec, StepLog(), handle.database

    def defaults_db() -> str:
        if databases.exists(databases.defaults):
            return f"{databases.defaults} already seeded"
        databases.seed_defaults(rendering.render_db_schema(), rendering.render_db_seed(spec))
        return f"{databases.defaults} seeded from templates/db"

    def working_db() -> str:
        if not databases.create_working():
            return f"{databases.working} already exists"
        return f"{databases.working} created from the defaults"

    def first_release() -> str:
        current = handle.content.current()
        if current is not None:
            return f"portal already serves release {current.release}"
        release = handle.content.publish_from_defaults(source="create")
        handle.content.switch(release.id)
        return f"release {release.id} published from defaults/ ({len(release.files)} files)"

    for name, step in (
        ("defaults-database", defaults_db),
        ("working-database", working_db),
        ("first-release", first_release),
    ):
        checkpoint(f"provision-{name}")
        log.run(name, step, progress)
    return log.steps
