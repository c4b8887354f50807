"""Publishing a stack's host routes (``infra.core.routing``) after every deploy.

The routes are what the application serves per ``Host`` header; tenantctl owns
them. ``deploy_stack`` publishes them once the update succeeded, so a production
opens to the public only after everything its go-live needs is in place, and a
failed update leaves the routes as they were. Each route is one PUT of a small
JSON object (idempotent: the same body again changes nothing the application sees).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.core.errors import EnvironmentProblem
from infra.core.routing import Route, route_key, routes_for
from infra.core.spec import TenantSpec
from infra.ops.adapters import aws

OPERATIONS_BUCKET_OUTPUT = "operationsBucket"
CONTENT_BUCKET_OUTPUT = "contentBucket"


def publish_routes(
    spec: TenantSpec, outputs: Mapping[str, Any] | None, region: str | None
) -> list[Route]:
    """Write every route of *spec*'s stack to the operations bucket its outputs name."""
    outputs = outputs or {}
    bucket = outputs.get(OPERATIONS_BUCKET_OUTPUT)
    content = outputs.get(CONTENT_BUCKET_OUTPUT)
    if not bucket or not content:
        raise EnvironmentProblem(
            f"{spec.stack_name} was deployed but reports no {OPERATIONS_BUCKET_OUTPUT} or "
            f"{CONTENT_BUCKET_OUTPUT} output, so its routes cannot be published; deploy it "
            "again with this version of the program"
        )
    s3 = aws.client("s3", region)
    routes = routes_for(spec, str(content))
    for route in routes:
        s3.put_object(
            Bucket=str(bucket),
            Key=route_key(route.host),
            Body=route.body(),
            ContentType="application/json",
            CacheControl="no-cache",
        )
    return routes


def read_route(bucket: str, host: str, region: str | None) -> dict[str, Any] | None:
    """The published route of *host*, or ``None`` (what the application does per request)."""
    import json

    from botocore.exceptions import ClientError

    try:
        body = aws.client("s3", region).get_object(Bucket=bucket, Key=route_key(host))["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    route: dict[str, Any] = json.loads(body.read())
    return route
