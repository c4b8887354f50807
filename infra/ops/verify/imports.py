"""Imports reconcile: each file ``stack.imports`` records is read again from where import
kept it (the preview's content bucket) and staged as the loader stages it, and every
natural key it imported is looked up in the table it loaded into. One check per kind
(``imports:<kind>``); a stack nothing was imported into gets one not-applicable check.

Read-only on the stack: the staging table is a temporary one in a transaction rolled back.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from infra.core import verify_checks as vc
from infra.core.import_kinds import KINDS, Kind
from infra.ops.content.import_engine import Problems, file_sha256, stage
from infra.ops.content.import_sql import KEY_EXPRESSIONS, OVERLAP
from infra.ops.content.imports import recorded_imports
from infra.ops.stacks.handle import StackHandle


def _keys(kind: Kind) -> str:
    """The natural key of a staged row as one text value (``ROW(...)::text`` if composite)."""
    exprs = KEY_EXPRESSIONS.get(kind.name, tuple(f"s.{column}" for column in kind.key))
    return f"({exprs[0]})::text" if len(exprs) == 1 else f"ROW({', '.join(exprs)})::text"


def _present(kind: Kind) -> str:
    """The staged rows whose natural key is in the kind's table (``s``: the staged row)."""
    join = OVERLAP.get(kind.name)
    if join is not None:
        return join
    on = " AND ".join(f"t.{column}::text = s.{column}" for column in kind.key)
    return f"staging s JOIN {kind.schema}.{kind.table} t ON {on}"


def _file_keys(
    conn: psycopg.Connection[Any], kind: Kind, path: Path
) -> tuple[set[str], set[str]] | str:
    """(every natural key *path* holds, those not in the table), or why it does not stage."""
    with conn.transaction(force_rollback=True):
        problems = Problems()
        stage(conn, kind, path, problems)
        if problems.count:
            return f"{path.name} no longer stages ({problems.count} problem(s))"
        keys = _keys(kind)
        every = {r[0] for r in conn.execute(f"SELECT DISTINCT {keys} FROM staging s")}
        found = {r[0] for r in conn.execute(f"SELECT DISTINCT {keys} FROM {_present(kind)}")}
    return every, every - found


def _download(stack: StackHandle, file_key: str, path: Path, sha256: str) -> str:
    """Fetch a recorded file (*file_key*: ``s3://bucket/key``, in the preview's bucket also
    for production, where promote replayed it from) to *path*; why not, or ``""``."""
    bucket, _, key = file_key.removeprefix("s3://").partition("/")
    try:
        stack.s3.download_file(bucket, key, str(path))
    except (ClientError, BotoCoreError) as exc:
        return f"{file_key} cannot be read ({exc})"
    if file_sha256(path) != sha256:
        return f"{file_key} does not match its recorded SHA-256"
    return ""


def reconcile(stack: StackHandle) -> list[vc.CheckResult]:
    """One ``imports:<kind>`` check per kind imported into *stack* (not applicable if none)."""
    records = recorded_imports(stack)
    if not records:
        return [vc.not_applicable("imports:*", "imports reconcile", "-", "nothing was imported")]
    out = []
    with (
        tempfile.TemporaryDirectory(prefix="tenantctl-reconcile-") as tmp,
        psycopg.connect(stack.working_url) as conn,
    ):
        for name in sorted({r.kind for r in records}, key=list(KINDS).index):
            kind = KINDS[name]
            every: set[str] = set()
            missing: set[str] = set()
            problems: list[str] = []
            for record in (r for r in records if r.kind == name):
                path = Path(tmp) / f"{name}-{record.sha256}.csv"
                problem = _download(stack, record.file_key, path, record.sha256)
                found = problem or _file_keys(conn, kind, path)
                if isinstance(found, str):
                    problems.append(f"{record.file_name}: {found}")
                    continue
                every |= found[0]
                missing |= found[1]
            out.append(vc.import_reconciliation(name, len(every), sorted(missing), problems))
    return out
