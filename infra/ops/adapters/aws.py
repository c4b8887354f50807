"""boto3 sessions and clients, made the same way everywhere.

Regions are always explicit. The endpoint comes from the standard
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_<SERVICE>``) setting, which boto3
honours on its own; that is how tests and the local target reach moto.
Clients are made on demand, never at import time, and kept: one per service,
region and ``AWS_*`` environment (boto3's clients are thread-safe).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from infra.core import naming

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient


DEFAULT_REGION = naming.DEFAULT_REGION
MAX_CONCURRENCY = 16
"""The most requests one operation runs at once (e.g. blob copies in a thread pool)."""

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    # One connection per worker, plus headroom for the caller's own requests.
    max_pool_connections=MAX_CONCURRENCY + 4,
)


def region_name(region: str | None = None) -> str:
    """*region*, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else us-east-1."""
    return (
        region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or DEFAULT_REGION
    )


@functools.cache
def _loader() -> botocore.loaders.Loader:
    """One loader of botocore's service models per process.

    Parsing the models is most of what making a client costs (about 110 ms of
    130 ms); a shared loader parses each once. The rest (about 40 ms: a session's
    handlers, the endpoint and credential chain) is paid once per kept client.
    """
    return botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))


def session(region: str | None = None) -> boto3.session.Session:
    core = botocore.session.Session()
    loader = _loader()
    core.register_component("data_loader", loader)
    made = boto3.session.Session(region_name=region_name(region), botocore_session=core)
    # boto3 appends its own data folder to the loader's search path on every session;
    # shared, the list would grow by one entry per client made.
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return made


@overload
def client(service: Literal["s3"], region: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["ssm"], region: str | None = None) -> SSMClient: ...
@overload
def client(
    service: Literal["secretsmanager"], region: str | None = None
) -> SecretsManagerClient: ...
@overload
def client(service: str, region: str | None = None) -> Any: ...
def client(service: str, region: str | None = None) -> Any:
    """A client for *service* with retries, timeouts and a pool sized for ``MAX_CONCURRENCY``.

    Made once per service, region and ``AWS_*`` environment and kept for the process: an
    operation asks for the same few clients dozens of times (each lock check, each step),
    and a changed endpoint or credential in the environment still gets a new client."""
    key = (service, region_name(region), _aws_environment())
    with _clients_lock:
        made = _clients.get(key)
        if made is None:
            if len(_clients) >= MAX_KEPT_CLIENTS:
                _clients.clear()
            made = _clients[key] = session(region).client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    return made


MAX_KEPT_CLIENTS = 64
"""More than one process uses (a handful of services in one or two regions); a bound all
the same, for a long-lived caller whose environment keeps changing."""

_clients: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = {}
_clients_lock = threading.Lock()  # sessions are not thread-safe; one client made at a time


def _aws_environment() -> tuple[tuple[str, str], ...]:
    """The ``AWS_*`` settings boto3 reads when it makes a client (endpoints, credentials,
    profile, config files, retry and CA settings)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
