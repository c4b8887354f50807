"""``tenantctl verify``: run the generated acceptance suite on the release a stack serves.

Read-only on the stack: it reads the served release and the working database's
configuration tables, serves the release on 127.0.0.1 as the portal would, loads every
page in headless Chromium at each width (``infra.core.verify_checks.WIDTHS``), and writes
one evidence bundle to ``verify/<run id>/`` in the stack's content bucket (beside the
releases, never one of them): ``junit.xml``, ``report.html`` (screenshots inlined),
``axe.json``, ``pages.json`` (each load's document size), ``screenshots/*.png`` and
``manifest.json`` (release, content and configuration hashes, tool version, time, and
the SHA-256 of every other file). The
bundle's hash is the SHA-256 of its ``manifest.json``.

The verify package never imports the rollout: the CLI passes an ``EvidenceRecorder``
that records the bundle's hash in the rollout history when a control database is set.
"""

from __future__ import annotations

import base64
import json
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from infra.core import placeholders as ph
from infra.core import verify_checks as vc
from infra.core.content_model import content_hash, content_manifest, dump_json, release_id_problem
from infra.core.errors import PreconditionFailed, UserInputError
from infra.core.rendering import PROJECT_DIR
from infra.core.steps import Progress, quiet
from infra.ops.adapters.aws import MAX_CONCURRENCY
from infra.ops.stacks.handle import StackHandle
from infra.ops.verify import browser
from infra.ops.verify.configuration import read_client_config
from infra.ops.verify.imports import reconcile
from infra.ops.verify.site import VISIT_PARAMETER, VerifySite, serving

TEMPLATE_DIR = PROJECT_DIR / "templates" / "verify"
BUNDLE_FILES = ("manifest.json", "junit.xml", "report.html", "axe.json", "pages.json")


class EvidenceRecorder(Protocol):
    """Where a run's bundle hash is recorded (the rollout history); returns a note."""

    def record(self, stack: StackHandle, run: VerifyRun) -> str: ...


@dataclass(frozen=True)
class VerifyRun:
    """One run of the suite: what it checked, its evidence and whether everything passed."""

    slug: str
    stage: str
    run_id: str
    started_at: str
    release: str
    content_hash: str
    config_hash: str
    tool_version: str
    checks: tuple[vc.CheckResult, ...]
    config_tables: Mapping[str, str] = field(default_factory=dict)
    """SHA-256 of each configuration table's rows (names what changed since a run)."""
    seconds: float = 0.0
    bundle: str = ""
    bundle_hash: str = ""
    recorded: str = ""

    @property
    def passed(self) -> bool:
        return all(c.status != vc.FAILED for c in self.checks)

    @property
    def failures(self) -> list[vc.CheckResult]:
        return [c for c in self.checks if c.status == vc.FAILED]

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "stage": self.stage,
            "runId": self.run_id,
            "startedAt": self.started_at,
            "release": self.release,
            "contentHash": self.content_hash,
            "configHash": self.config_hash,
            "configTables": dict(self.config_tables),
            "toolVersion": self.tool_version,
            "passed": self.passed,
            "counts": vc.summary(self.checks),
            "checks": [c.to_json() for c in self.checks],
            "seconds": round(self.seconds, 3),
            "bundle": self.bundle,
            "bundleHash": self.bundle_hash,
            "recorded": self.recorded,
        }


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _release_files(stack: StackHandle, release_id: str | None) -> tuple[str, dict[str, bytes]]:
    """The files of *release_id*, or of the release the stack serves when it is ``None``."""
    if release_id is not None:
        problem = release_id_problem(release_id)
        release = None if problem else stack.content.release(release_id)
        if release is None:
            raise UserInputError(
                f"--release {release_id!r}: "
                + (problem or f"{stack.stack_name} has no such release")
                + f"; `tenantctl verify {stack.spec.slug}` verifies the one it serves"
            )
    else:
        current = stack.content.current()
        if current is None:
            raise PreconditionFailed(
                f"{stack.stack_name} serves no release yet: deploy it first "
                f"(`tenantctl create {stack.spec.slug}` or `tenantctl deploy {stack.stack_name}`)"
            )
        release = stack.content.release(current.release)
        if release is None:
            raise PreconditionFailed(
                f"{stack.stack_name} serves release {current.release!r}, which does not exist"
            )
    keys = sorted(release.files)
    with ThreadPoolExecutor(MAX_CONCURRENCY) as pool:
        bodies = list(pool.map(lambda k: stack.content.read(release.id, k), keys))
    return release.id, dict(zip(keys, bodies, strict=True))


# ------------------------------------------------------------------ evaluation

_DUPLICATE_CONSOLE = "console: Failed to load resource"
"""Chromium's console echo of a failed load, already reported as the response itself."""


def _axe_findings(found: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for violation in found:
        if violation.get("impact") not in vc.BLOCKING_IMPACTS:
            continue
        for node in violation.get("nodes", []):
            target = " ".join(str(t) for t in node.get("target", []))
            out.append(
                f"{violation['id']} ({violation['impact']}) on {target}: {violation['help']}"
            )
    return out


def _evaluate(
    site: VerifySite,
    base: str,
    visits: Sequence[vc.PageVisit],
    loaded: Mapping[str, browser.Loaded],
) -> list[vc.CheckResult]:
    known: dict[str, int] = {}
    out: list[vc.CheckResult] = []
    for visit in visits:
        served = site.served_page(visit)
        for width in visit.widths:
            page = loaded[f"{visit.id}@{width}"]
            errors = [e for e in page.errors if not e.startswith(_DUPLICATE_CONSOLE)]
            if width == visit.widths[0]:
                errors = [f"{t} left in the page" for t in vc.leftovers(served)] + errors
            out.append(
                vc.result(
                    f"render:{visit.id}@{width}", "page renders", visit.path, errors, visit.path
                )
            )
            out.append(
                vc.result(
                    f"layout:{visit.id}@{width}",
                    "fits the viewport",
                    visit.path,
                    vc.overflow_problems(page.width, vc.WIDTHS[width][0], page.widest),
                    visit.path,
                )
            )
            if not visit.accessibility:
                continue
            out.append(
                vc.result(
                    f"a11y:{visit.id}@{width}",
                    "accessibility",
                    visit.path,
                    _axe_findings(page.axe),
                    visit.path,
                )
            )
        desktop = loaded[f"{visit.id}@{visit.widths[0]}"]
        for link in desktop.links:
            path = link.split("#", 1)[0].split("?", 1)[0]
            if path.startswith(base):
                rel = path[len(base) :] or "/"
                known.setdefault(rel, site.status(rel))
        out.append(
            vc.result(
                f"links:{visit.id}",
                "internal links",
                visit.path,
                vc.link_problems(desktop.links, base, known),
                visit.path,
            )
        )
        for expect in visit.expects:
            out.append(
                vc.result(
                    expect.check,
                    expect.kind,
                    expect.subject,
                    vc.missing_texts(expect, desktop.text),
                    visit.path,
                )
            )
    return out


def _applicability(config: vc.ClientConfig) -> list[vc.CheckResult]:
    out = []
    if not config.permit_types:
        out.append(
            vc.not_applicable("permit-type:*", "permit type", "-", "no permit type is on sale")
        )
    if not config.lots:
        out.append(vc.not_applicable("lot:*", "lot", "-", "no active lot"))
    for code in vc.unsold_lots(config):
        out.append(
            vc.not_applicable(f"lot:{code}", "lot", code, "no permit type on sale is valid in it")
        )
    if not config.violation_types:
        out.append(
            vc.not_applicable("violation-type:*", "violation type", "-", "no violation type")
        )
    return out


# ------------------------------------------------------------------ evidence


def _junit(run: VerifyRun) -> bytes:
    suite = TestSuite(f"verify {run.slug}-{run.stage}")
    suite.timestamp = run.started_at
    for check in run.checks:
        case = TestCase(check.id, classname=check.kind)
        if check.status == vc.FAILED:
            case.result = [Failure(check.detail)]
        elif check.status == vc.NOT_APPLICABLE:
            case.result = [Skipped(f"not applicable: {check.detail}")]
        suite.add_testcase(case)
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml.tostring()


def _report(run: VerifyRun, shots: Sequence[Mapping[str, str]]) -> bytes:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    page = env.get_template("report.html.j2").render(
        run=run, checks=run.checks, counts=vc.summary(run.checks), screenshots=shots
    )
    return page.encode("utf-8")


def _bundle(
    run: VerifyRun, loaded: Sequence[browser.Loaded], shots: Mapping[str, bytes], visits: Any
) -> dict[str, bytes]:
    by_key = {v.id: v for v in visits}
    shot_rows = []
    files: dict[str, bytes] = {}
    for key in sorted(shots):
        visit_id, width = key.split("@")
        files[f"screenshots/{key}.png"] = shots[key]
        shot_rows.append(
            {
                "visit": visit_id,
                "path": by_key[visit_id].path,
                "width_name": width,
                "data": base64.b64encode(shots[key]).decode(),
            }
        )
    files["junit.xml"] = _junit(run)
    files["report.html"] = _report(run, shot_rows)
    files["axe.json"] = dump_json({p.key: {"url": p.url, "violations": p.axe} for p in loaded})
    files["pages.json"] = dump_json(
        {
            p.key: {"url": p.url, "width": p.width, "height": p.height, "widest": p.widest}
            for p in loaded
        }
    )
    manifest = {
        "runId": run.run_id,
        "slug": run.slug,
        "stage": run.stage,
        "release": run.release,
        "contentHash": run.content_hash,
        "configHash": run.config_hash,
        "configTables": dict(run.config_tables),
        "toolVersion": run.tool_version,
        "startedAt": run.started_at,
        "passed": run.passed,
        "counts": vc.summary(run.checks),
        "files": {name: content_hash(body) for name, body in sorted(files.items())},
    }
    files["manifest.json"] = dump_json(manifest)
    return files


def bundle_prefix(run_id: str) -> str:
    return f"{vc.EVIDENCE_PREFIX}{run_id}/"


def _content_type(name: str) -> str:
    return {
        ".json": "application/json",
        ".xml": "application/xml",
        ".html": "text/html; charset=utf-8",
        ".png": "image/png",
    }[Path(name).suffix]


# ------------------------------------------------------------------ the operation


def verify(
    stack: StackHandle,
    progress: Progress = quiet,
    recorder: EvidenceRecorder | None = None,
    release: str | None = None,
) -> VerifyRun:
    """Run the suite on *release* (default: the one *stack* serves) with the stack's
    configuration; write and (with *recorder*) record the evidence. Never changes the
    stack: its releases, database and settings are only read."""
    started = time.monotonic()
    executable = browser.chromium_path()  # before anything is read: one line if absent
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = new_run_id(now)
    release_id, files = _release_files(stack, release)
    config, (config_hash, config_tables) = read_client_config(stack.working_url)
    visits = vc.page_visits(config, files)
    subjects_raw = files.get(ph.SUBJECTS_FILE, b"{}")
    try:
        subjects = json.loads(subjects_raw)
    except ValueError:
        subjects = {}
    checks = vc.template_checks(files) + vc.email_checks(
        files, subjects if isinstance(subjects, dict) else {}
    )
    checks += _applicability(config)
    checks += reconcile(stack)
    if not config.currency:
        checks.append(vc.result("setting:currency", "setting", "locale.currency", ["not set"]))
    progress(f"  {len(visits)} page visits at {len(vc.WIDTHS)} widths in headless Chromium")
    site = VerifySite(files, visits)
    with tempfile.TemporaryDirectory(prefix="tenantctl-verify-") as tmp, serving(site) as base:
        loads = [
            browser.Load(
                f"{v.id}@{name}",
                f"{base}{v.path}?{VISIT_PARAMETER}={v.id}",
                w,
                h,
                Path(tmp) / f"{v.id}@{name}.png",
                v.accessibility,
            )
            for v in visits
            for name, (w, h) in vc.WIDTHS.items()
            if name in v.widths
        ]
        loaded = browser.load_all(loads, executable)
        checks += _evaluate(site, base, visits, {p.key: p for p in loaded})
        shots = {load.key: load.screenshot.read_bytes() for load in loads}
    run = VerifyRun(
        slug=stack.spec.slug,
        stage=stack.spec.stage,
        run_id=run_id,
        started_at=now.isoformat().replace("+00:00", "Z"),
        release=release_id,
        content_hash=vc.release_content_hash(content_manifest(files)),
        config_hash=config_hash,
        config_tables=config_tables,
        tool_version=version("tenantctl"),
        checks=tuple(checks),
    )
    bundle = _bundle(run, loaded, shots, visits)
    prefix = bundle_prefix(run_id)
    for name, body in bundle.items():
        stack.content.put_evidence(prefix + name, body, _content_type(name))
    run = replace(
        run,
        bundle=f"s3://{stack.content.bucket}/{prefix}",
        bundle_hash=content_hash(bundle["manifest.json"]),
        seconds=time.monotonic() - started,
    )
    if recorder is not None:
        run = replace(run, recorded=recorder.record(stack, run))
    return run
