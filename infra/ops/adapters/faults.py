"""Translate what the client libraries raise into one-line errors with an exit code.

Operations meet botocore, psycopg and OS errors; the CLI must never show their
tracebacks. ``translate`` turns each known kind into the ``TenantctlError``
that says what could not be reached or written and what to do. Anything it
does not know stays a bug: the CLI logs its traceback to a file and says where.
"""

from __future__ import annotations

import errno
import os
import tempfile
import traceback
from pathlib import Path

import psycopg
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from infra.core.errors import (
    DependencyUnreachable,
    EnvironmentProblem,
    LocalIOError,
    TenantctlError,
    UserInputError,
)
from infra.core.naming import NameError_
from infra.core.platform import PlatformError
from infra.core.rendering import RenderError

LOG_DIR_ENV = "TENANTCTL_LOG_DIR"


def translate(exc: BaseException) -> TenantctlError | None:
    """The user-facing error for *exc*, or ``None`` when it is not a known kind."""
    if isinstance(exc, TenantctlError):
        return exc
    if isinstance(exc, PlatformError | RenderError | NameError_):
        # Problems of a stack file, a template or the platform: the user's to fix.
        return UserInputError(_one_line(exc))
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | ReadTimeoutError):
        return DependencyUnreachable(
            f"could not reach AWS ({_one_line(exc)}); check the network, AWS_ENDPOINT_URL "
            "and the region, then re-run"
        )
    if isinstance(exc, InvalidRegionError):
        return EnvironmentProblem(
            f"{_one_line(exc)}; fix aws:region in the stack file or AWS_REGION"
        )
    if isinstance(exc, NoCredentialsError):
        return EnvironmentProblem(
            "no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return EnvironmentProblem(
            "no AWS region set; set AWS_REGION or aws:region in the stack file"
        )
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "AccessDenied",
            "AccessDeniedException",
        }:
            return EnvironmentProblem(f"AWS refused the request ({code}): {_one_line(exc)}")
        if code in {
            "Throttling",
            "ThrottlingException",
            "SlowDown",
            "RequestLimitExceeded",
            "ServiceUnavailable",
            "InternalError",
        }:
            return DependencyUnreachable(f"AWS is busy ({code}) after retries; re-run later")
        return None
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return DependencyUnreachable(
            f"could not reach PostgreSQL ({_one_line(exc)}); check the server and "
            "TENANTCTL_DATABASE_URL, then re-run"
        )
    if isinstance(exc, OSError) and exc.errno in {
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
    }:
        where = f" {exc.filename}" if exc.filename else ""
        return LocalIOError(
            f"could not write{where}: {exc.strerror}; free space or fix permissions"
        )
    if isinstance(exc, OSError) and exc.errno in {errno.ENOENT, errno.ENOTDIR, errno.EISDIR}:
        where = f" {exc.filename}" if exc.filename else ""
        return LocalIOError(
            f"could not read or write{where}: {exc.strerror}; check the path (e.g. --stacks-dir)"
        )
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("…" if len(text) > 200 else "")


def log_unexpected(exc: BaseException) -> Path | None:
    """Write *exc*'s traceback to a private log file; returns its path (None if unwritable)."""
    folder = Path(os.environ.get(LOG_DIR_ENV) or tempfile.gettempdir())
    try:
        fd, name = tempfile.mkstemp(prefix="tenantctl-error-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(traceback.format_exception(exc)))
        return Path(name)
    except OSError:
        return None
