"""A pooled stack's PostgreSQL role credentials, kept in its Secrets Manager secret.

The program creates the secret without a value (``naming.database_role_secret_name``);
tenantctl generates the password once, stores ``{"username", "password"}`` there and
sets it on the role. The password never passes through Pulumi config or state, and
nothing here prints or logs it.
"""

from __future__ import annotations

import json
import secrets as token
from typing import Any

from botocore.exceptions import ClientError

from infra.core import naming
from infra.core.errors import PreconditionFailed

PASSWORD_BYTES = 32
"""256 bits of randomness, URL-safe (no quoting trouble in connection strings)."""


def role_credentials(client: Any, slug: str, stage: naming.Stage) -> tuple[str, str]:
    """``(username, password)`` of the stack's role: as stored, or generated and stored now."""
    name = naming.database_role_secret_name(slug, stage)
    role = naming.database_role_name(slug, stage)
    try:
        stored = client.get_secret_value(SecretId=name)
        value = json.loads(stored.get("SecretString") or "{}")
        if isinstance(value, dict) and value.get("username") == role and value.get("password"):
            return role, str(value["password"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    except json.JSONDecodeError:
        pass  # not ours: replaced below
    password = token.token_urlsafe(PASSWORD_BYTES)
    try:
        client.put_secret_value(
            SecretId=name, SecretString=json.dumps({"username": role, "password": password})
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise PreconditionFailed(
                f"the database role secret {name} does not exist yet; deploy "
                f"{naming.stack_name(slug, stage)} first (`tenantctl deploy "
                f"{naming.stack_name(slug, stage)}`)"
            ) from None
        raise
    return role, password
