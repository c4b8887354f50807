"""After a stack is deployed: the data-plane steps ``create`` finishes with.

``post_provision`` seeds the defaults template database from ``templates/db``,
creates the working database from it and publishes the first content release
from ``defaults/``. Every step checks what is already there, so running it
again changes nothing.
"""

from __future__ import annotations

from typing import Any

from infra.core import naming, rendering
from infra.ops.stack import StackHandle
from infra.ops.steps import Progress, StepLog, quiet


def post_provision(handle: StackHandle, progress: Progress = quiet) -> list[dict[str, Any]]:
    """Defaults database, working database and first release; idempotent."""
    spec, log = handle.spec, StepLog()
    slug, stage = spec.slug, spec.stage

    def defaults_db() -> str:
        name = naming.defaults_database_name(slug, stage)
        if handle.database.exists(name):
            return f"{name} already seeded"
        handle.database.seed_defaults(
            slug, stage, rendering.render_db_schema(), rendering.render_db_seed(spec)
        )
        return f"{name} seeded from templates/db"

    def working_db() -> str:
        name = naming.database_name(slug, stage)
        if handle.database.exists(name):
            return f"{name} already exists"
        handle.database.create_working(slug, stage)
        return f"{name} created from the defaults"

    def first_release() -> str:
        current = handle.content.current()
        if current is not None:
            return f"portal already serves release {current.release}"
        release = handle.content.publish_from_defaults(source="create")
        handle.content.switch(release.id)
        return f"release {release.id} published from defaults/ ({len(release.files)} files)"

    log.run("defaults-database", defaults_db, progress)
    log.run("working-database", working_db, progress)
    log.run("first-release", first_release, progress)
    return log.steps
