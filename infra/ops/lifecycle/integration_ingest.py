"""The platform's push route: a request path and body to the integration's receive handler.

The platform serves every push integration of every client with one wildcard route,
``PUSH_PREFIX*`` on its ``ingestEndpoint`` (``infra.core.integrations.ingest``); this is
what that route runs. ``receive_at`` resolves the path to the stack and integration
(refusing a malformed path, an unknown client or stage, an integration that is not a
push, all with nothing stored), reads the integration's signing key from its secret and
checks the HMAC (an unsigned body is refused and not kept: the URL is public), keeps
every signed body as received in the raw archive (``infra.ops.integrations.archive``;
before it is parsed, so a malformed one is kept too) and calls the existing receive
handler (``infra.ops.integrations.receive``), which stores the sessions. The answer is
an HTTP status and one line of reason (never a traceback, never a secret), as the vendor
sees it.

On the local target ``infra.devtools.ingestserver`` serves it on 127.0.0.1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.core.errors import ExitCode, TenantctlError, UnknownTenant
from infra.core.integrations.adapters.registry import (
    adapter_for_integration,
    context_for_integration,
)
from infra.core.integrations.ingest import MalformedPushPath, resolve_push_path
from infra.core.integrations.record import MAX_PAYLOAD_BYTES
from infra.ops.adapters.database import connect
from infra.ops.adapters.faults import translate
from infra.ops.integrations.archive import Archived, archive_raw
from infra.ops.integrations.receive import SignatureRefused, check_signature, receive_push
from infra.ops.integrations.store import IngestResult, lots_and_zones
from infra.ops.lifecycle.integration_test import credential
from infra.ops.stacks.opening import open_from_files

ACCEPTED = 202
STATUS_BY_EXIT: dict[ExitCode, int] = {
    ExitCode.BAD_INPUT: 400,
    ExitCode.PRECONDITION: 503,
    ExitCode.UNREACHABLE: 503,
    ExitCode.LOCAL_IO: 503,
}
"""A refusal's exit code -> the HTTP status the vendor gets (others: 500). 503 means
"not ready here, retry later": vendors redeliver on 5xx, and nothing was stored."""
NOT_HERE = "no push integration at this path; nothing stored"
"""The one answer for an unknown client, stage or integration: the URL is public, so a
stranger learns nothing about which clients exist."""
RETRY_LATER = "the platform cannot take this push now; nothing stored, retry later"
"""The answer for a fault on our side; what it was goes to the log, not to the caller."""
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushOutcome:
    """What the route answered one push: its HTTP status, why, and what was stored."""

    status: int
    reason: str
    ingest: IngestResult | None = None
    archived: Archived | None = None
    """Where the body was kept as received (``None``: the path named no push integration)."""
    detail: str = ""
    """What the operator needs to know (stack files, settings), logged, never sent."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "ingest": self.ingest.to_json() if self.ingest else None,
            "archived": self.archived.to_json() if self.archived else None,
        }


def receive_at(stacks_dir: Path, path: str, body: bytes, signature: str) -> PushOutcome:
    """Resolve *path* to its push integration, check *signature*, archive *body* as
    received (before parsing, so a malformed signed push is kept too) and receive it."""
    archived: list[Archived] = []
    kept = lambda: archived[0] if archived else None  # noqa: E731
    try:
        return _receive(stacks_dir, path, body, signature, archived)
    except MalformedPushPath as exc:
        return PushOutcome(404, str(exc))
    except SignatureRefused as exc:
        return PushOutcome(401, str(exc))
    except UnknownTenant as exc:
        return _refused(PushOutcome(404, NOT_HERE, detail=str(exc)))
    except TenantctlError as exc:
        status = STATUS_BY_EXIT.get(exc.exit_code, 500)
        if status == 400:  # about the vendor's own payload: it needs the reason
            return PushOutcome(status, str(exc), archived=kept())
        return _refused(PushOutcome(status, RETRY_LATER, archived=kept(), detail=str(exc)))
    except Exception as exc:  # a database or AWS fault, or a bug: never a traceback
        known = translate(exc)
        status = STATUS_BY_EXIT.get(known.exit_code, 500) if known else 500
        detail = str(known) if known else f"{type(exc).__name__}: {exc}"
        return _refused(PushOutcome(status, RETRY_LATER, archived=kept(), detail=detail))


def _refused(outcome: PushOutcome) -> PushOutcome:
    LOG.warning("push refused (%s): %s", outcome.status, outcome.detail)
    return outcome


def _receive(
    stacks_dir: Path, path: str, body: bytes, signature: str, archived: list[Archived]
) -> PushOutcome:
    target = resolve_push_path(path)
    if len(body) > MAX_PAYLOAD_BYTES:
        return PushOutcome(413, f"push body is over {MAX_PAYLOAD_BYTES} bytes; nothing stored")
    handle = open_from_files(stacks_dir, target.slug, target.stage)
    spec = handle.spec
    integration = next((i for i in spec.integrations if i.id == target.integration), None)
    if integration is None or integration.mode != "push":
        what = "no integration" if integration is None else f"a {integration.mode} integration"
        return _refused(
            PushOutcome(
                404, NOT_HERE, detail=f"{spec.stack_name} has {what} {target.integration!r}"
            )
        )
    key = credential(spec, integration, handle.region).encode()
    # Checked before archiving: the push URL is public, and a body nobody signed must not
    # let a stranger write into the client's bucket. Every signed body is kept, malformed
    # or not, before it is parsed.
    check_signature(body, signature, key, integration.id)
    archived.append(archive_raw(handle.s3, handle.content.bucket, integration.id, body))
    adapter = adapter_for_integration(integration)
    context = context_for_integration(integration)
    with connect(handle.working_url) as conn:
        lots, _ = lots_and_zones(conn)
        result = receive_push(
            conn,
            body,
            signature,
            key,
            adapter,
            context,
            zone_map=integration.zone_map(),
            lots=lots,
            policy=integration.unmatched_zones,
        )
    return PushOutcome(
        ACCEPTED,
        f"{result.received} session(s) received for {spec.stack_name}",
        result,
        archived[0],
    )
