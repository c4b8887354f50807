"""``tenantctl verify show``: read back one run's evidence bundle from the stack's bucket.

Read-only. The run is named by its id, or is the latest (run ids sort by time). What it
returns is the manifest as written (release, content and configuration hashes, tool
version, time, counts), every check as the bundle's ``junit.xml`` states it, the bundle's
hash (the SHA-256 of ``manifest.json``, the one the rollout history records), and any file
whose bytes no longer match the manifest. ``--open`` writes the bundle's self-contained
``report.html`` to a local file, after checking it against the manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from junitparser import Failure, JUnitXml, Skipped

from infra.core import verify_checks as vc
from infra.core.content_model import content_hash
from infra.core.errors import PreconditionFailed, UserInputError
from infra.ops.adapters.yamlfiles import write_atomically
from infra.ops.stacks.handle import StackHandle

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class Evidence:
    """One run's bundle as stored."""

    stack: str
    run_id: str
    bundle: str
    bundle_hash: str
    manifest: dict[str, Any]
    checks: tuple[vc.CheckResult, ...]
    tampered: tuple[str, ...]
    """Files of the bundle whose bytes do not match the manifest (or are gone)."""
    report: bytes

    @property
    def passed(self) -> bool:
        return bool(self.manifest.get("passed")) and not self.tampered

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "runId": self.run_id,
            "bundle": self.bundle,
            "bundleHash": self.bundle_hash,
            "manifest": self.manifest,
            "checks": [c.to_json() for c in self.checks],
            "tampered": list(self.tampered),
        }


def _checks(junit: bytes) -> tuple[vc.CheckResult, ...]:
    out = []
    for suite in JUnitXml.fromstring(junit.decode("utf-8")):
        for case in suite:
            status: vc.Status = vc.PASSED
            detail = ""
            for r in case.result:
                if isinstance(r, Failure):
                    status, detail = vc.FAILED, r.message or ""
                elif isinstance(r, Skipped):
                    status = vc.NOT_APPLICABLE
                    detail = (r.message or "").removeprefix("not applicable: ")
            out.append(vc.CheckResult(case.name, case.classname, "", status, detail))
    return tuple(out)


def read_evidence(stack: StackHandle, run_id: str | None = None) -> Evidence:
    """The bundle of *run_id* (default: the latest run on *stack*)."""
    store = stack.content
    slug = stack.spec.slug
    if run_id is None:
        runs = store.evidence_runs()
        if not runs:
            raise PreconditionFailed(
                f"{stack.stack_name} has no verify run yet: "
                f"`tenantctl verify {slug} --stage {stack.spec.stage}` makes one"
            )
        run_id = runs[-1]
    elif not vc.RUN_ID_PATTERN.fullmatch(run_id):
        raise UserInputError(
            f"--run {run_id!r} is not a verify run id (like 20261207T020000Z-1a2b3c); "
            f"`tenantctl verify show {slug}` shows the latest"
        )
    prefix = f"{vc.EVIDENCE_PREFIX}{run_id}/"
    raw = store.get_evidence(prefix + "manifest.json")
    if raw is None:
        raise UserInputError(
            f"{stack.stack_name} has no verify run {run_id}; "
            f"`tenantctl verify show {slug}` shows the latest"
        )
    manifest = json.loads(raw)
    files = manifest.get("files", {})
    bodies = {name: store.get_evidence(prefix + name) for name in sorted(files)}
    tampered = tuple(
        name for name, body in bodies.items() if body is None or content_hash(body) != files[name]
    )
    junit = bodies.get("junit.xml")
    return Evidence(
        stack=stack.stack_name,
        run_id=run_id,
        bundle=f"s3://{store.bucket}/{prefix}",
        bundle_hash=content_hash(raw),
        manifest=manifest,
        checks=_checks(junit) if junit and "junit.xml" not in tampered else (),
        tampered=tampered,
        report=bodies.get(REPORT_FILE) or b"",
    )


def write_report(evidence: Evidence, folder: Path) -> Path:
    """Write the run's HTML report to ``verify-<stack>-<run id>.html`` in *folder*."""
    if REPORT_FILE in evidence.tampered or not evidence.report:
        raise PreconditionFailed(
            f"the report of run {evidence.run_id} does not match its manifest; "
            f"re-run `tenantctl verify` for fresh evidence"
        )
    path = folder / f"verify-{evidence.stack}-{evidence.run_id}.html"
    write_atomically(path, evidence.report.decode("utf-8"))
    return path
