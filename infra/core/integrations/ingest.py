"""The receive path of push integrations: one ingest endpoint for the whole platform.

A vendor pushes to its integration's ``pushUrl``: the platform's ``ingestEndpoint``
(one https base URL, ``INGEST_ENDPOINT_OUTPUT``) followed by ``push_path(slug, stage,
integration)``. The platform serves every such path with one wildcard route
(``PUSH_PREFIX`` + ``*``) onto one handler, which ``resolve_push_path`` turns back into
the integration, so a client, a stage or a push integration adds no route, listener
rule or API of its own: 1,000 clients with any number of push integrations use the
quotas of one.

Paths are refused before anything is read or stored when they do not have the shape
of a push path (``MalformedPushPath``); whether the integration exists is the
handler's question (it knows the stacks).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from infra.core import naming
from infra.core.errors import UserInputError
from infra.core.integration_config import LOOPBACK_HOSTS, id_problem

INGEST_ENDPOINT_OUTPUT = "ingestEndpoint"
"""The platform output holding the ingest endpoint's base URL."""
PUSH_PREFIX = "/v1/push/"
"""Every push path starts with this; the platform's one wildcard route is this + ``*``."""
PUSH_PATH_MAX = 128
"""Longer than any push path can be (prefix, a 24-character slug, a stage, a 24-character
id): a longer one is refused unread."""


class MalformedPushPath(UserInputError):
    """A request path that is not ``PUSH_PREFIX<slug>/<stage>/<integration>``."""


@dataclass(frozen=True)
class PushTarget:
    """The integration a push path names."""

    slug: str
    stage: naming.Stage
    integration: str


def push_path(slug: str, stage: naming.Stage, integration_id: str) -> str:
    """The path of *integration_id*'s pushes in *slug*'s *stage* on the ingest endpoint."""
    return f"{PUSH_PREFIX}{slug}/{stage}/{integration_id}"


def push_url(ingest_endpoint: str, slug: str, stage: naming.Stage, integration_id: str) -> str:
    """The URL a vendor is given for *integration_id*: the endpoint and its push path."""
    return ingest_endpoint.rstrip("/") + push_path(slug, stage, integration_id)


def resolve_push_path(path: str) -> PushTarget:
    """The integration *path* names; ``MalformedPushPath`` saying why otherwise.

    *path* is the request's path as received (no query string); a trailing slash,
    percent-escapes, empty or extra segments are all refused: a vendor is given the exact
    ``pushUrl``, and one spelling per integration keeps the archive and the logs plain."""
    if len(path) > PUSH_PATH_MAX:
        raise MalformedPushPath(f"push path is longer than {PUSH_PATH_MAX} characters")
    if not path.startswith(PUSH_PREFIX):
        raise MalformedPushPath(f"push path must start with {PUSH_PREFIX}, got {path[:40]!r}")
    parts = path[len(PUSH_PREFIX) :].split("/")
    if len(parts) != 3:
        raise MalformedPushPath(
            f"push path must be {PUSH_PREFIX}<client>/<stage>/<integration>, got {path!r}"
        )
    slug, stage, integration = parts
    problem = naming.slug_problem(slug)
    if problem is not None:
        raise MalformedPushPath(f"push path names client {slug!r}, which {problem}")
    if stage not in naming.STAGES:
        raise MalformedPushPath(
            f"push path names stage {stage!r}; it must be {' or '.join(naming.STAGES)}"
        )
    problem = id_problem(integration)
    if problem is not None:
        raise MalformedPushPath(f"push path names integration {integration!r}, which {problem}")
    return PushTarget(slug, stage, integration)


def ingest_endpoint_problem(value: object) -> str | None:
    """Why *value* cannot be the platform's ingest endpoint, or ``None``: an ``https://``
    base URL (scheme and host, no path, query or fragment); ``http://`` only on a loopback
    host (the local target's ingest server)."""
    if not isinstance(value, str) or not value:
        return "must be the https:// base URL of the platform's ingest endpoint"
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return f"must be an https:// URL (http:// only on 127.0.0.1 or localhost), got {value!r}"
    if not host or parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"must be a base URL (scheme and host only, no path), got {value!r}"
    return None
