"""The host routing table: which tenant, stage and page each host name serves.

The platform's load balancer sends every host under ``*.<zoneName>`` and
``*.admin.<zoneName>`` to the multi-tenant application (one wildcard rule,
certificate and DNS record per scheme, all the platform's); a tenant stack adds
no listener rule, listener certificate or DNS record for its platform hosts.
The application finds the tenant from the request's ``Host`` header in this
table, which tenantctl owns and publishes after every deploy of a stack:

one JSON object per host, at ``routing/v1/<host>.json`` in the platform's
operations bucket (``operationsBucketName``)::

    {"version": 1, "host": "demo-preview.tenants.example.com", "tenant": "demo",
     "stage": "preview", "kind": "portal", "serve": "application",
     "contentBucket": "tenantctl-demo-preview-content-1a2b3c4d",
     "currentKey": "current.json", "comingSoonPage": null, "comingSoonStatus": null}

- ``serve`` is ``application`` (preview always, production once live) or
  ``coming-soon``: the application then answers ``comingSoonPage`` with
  ``comingSoonStatus`` (503) and never the portal or the admin site.
- the release served is the one ``currentKey`` in ``contentBucket`` names
  (``current.json``; tenantctl switches it atomically), so the table never has
  to be rewritten when content changes and can never disagree with it.
- ``kind`` is ``admin`` or ``portal``; a client's own portal domain is a
  ``portal`` host of its production.

One object per host (not one table) so a lookup is one GET the application can
cache by ETag, and two clients deployed at once never write the same object.
A new format gets a new prefix (``routing/v2/``), published beside the old one
until the application reads it.

Pure logic: no Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any, Literal

from infra.core import naming
from infra.core.spec import TenantSpec

COMING_SOON_STATUS = 503
"""What the application answers a host whose route says ``coming-soon``."""

ROUTING_VERSION = 1
ROUTING_PREFIX = f"routing/v{ROUTING_VERSION}/"

Serve = Literal["application", "coming-soon"]


def route_key(host: str) -> str:
    """Where *host*'s route lives in the operations bucket."""
    return f"{ROUTING_PREFIX}{host}.json"


def coming_soon_page(display_name: str) -> str:
    """The short page a production's hosts answer with until go-live."""
    title = html.escape(display_name)
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>Coming soon.</p></body></html>"
    )


def serves_application(stage: naming.Stage, live: bool) -> bool:
    """Whether a stack's hosts reach the application: preview at once (it is for practice
    from day one), production only once it is live."""
    return stage == naming.PREVIEW or live


@dataclass(frozen=True)
class Route:
    host: str
    tenant: str
    stage: naming.Stage
    kind: Literal["admin", "portal"]
    serve: Serve
    content_bucket: str
    coming_soon_page: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": ROUTING_VERSION,
            "host": self.host,
            "tenant": self.tenant,
            "stage": self.stage,
            "kind": self.kind,
            "serve": self.serve,
            "contentBucket": self.content_bucket,
            "currentKey": naming.CURRENT_KEY,
            "comingSoonPage": self.coming_soon_page,
            "comingSoonStatus": COMING_SOON_STATUS if self.coming_soon_page else None,
        }

    def body(self) -> bytes:
        return json.dumps(self.to_json(), sort_keys=True).encode("utf-8")


def routes_for(spec: TenantSpec, content_bucket: str) -> list[Route]:
    """Every host of *spec*'s stack and what it serves."""
    serve: Serve = "application" if serves_application(spec.stage, spec.live) else "coming-soon"
    page = None if serve == "application" else coming_soon_page(spec.display_name)
    hosts: list[tuple[str, Literal["admin", "portal"]]] = [
        (spec.admin_host, "admin"),
        (spec.portal_host, "portal"),
    ]
    if spec.portal_domain is not None:
        hosts.append((spec.portal_domain, "portal"))
    return [
        Route(host, spec.slug, spec.stage, kind, serve, content_bucket, page)
        for host, kind in hosts
    ]
