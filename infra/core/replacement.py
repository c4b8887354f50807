"""Which deploys would destroy a client's data: replacing or deleting a stateful resource.

A change to an input AWS cannot update in place (a ForceNew argument in the
provider's schema) replaces the resource; a resource with an explicit physical
name is replaced delete-first, so a new platform KMS key deletes the preview
database, its automated backups with it, and a changed ``tenants:platformStack``
renames (replaces) the content bucket. ``tenantctl deploy`` refuses such an update
unless each resource is named with ``--allow-replace`` and a reason is given.

Two sources of the same answer, one rule:

- ``changes_between`` compares the stateful resources of two plans (the local
  target keeps the last applied one; the tests compare plans directly);
- ``changes_from_steps`` reads the steps ``pulumi preview`` reports (``op`` and
  the keys that force replacement) on a real backend.

Pure logic: no Pulumi, boto3, database or YAML imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

STATEFUL: dict[str, str] = {
    "aws:rds/instance:Instance": "database",
    "aws:s3/bucket:Bucket": "content bucket",
    "aws:cognito/userPool:UserPool": "user pool",
    "aws:secretsmanager/secret:Secret": "secret",
}
"""Resource type -> what it holds that Pulumi cannot recreate (data, accounts, credentials)."""

FORCE_NEW: dict[str, frozenset[str]] = {
    # terraform-provider-aws internal/service/rds/instance.go: ForceNew arguments.
    "aws:rds/instance:Instance": frozenset(
        {
            "identifier",
            "identifierPrefix",
            "kmsKeyId",
            "storageEncrypted",
            "engine",
            "dbName",
            "username",
            "availabilityZone",
            "characterSetName",
            "ncharCharacterSetName",
            "snapshotIdentifier",
            "timezone",
        }
    ),
    # internal/service/s3/bucket.go
    "aws:s3/bucket:Bucket": frozenset({"bucket", "bucketPrefix", "objectLockEnabled"}),
    # internal/service/cognitoidp/user_pool.go
    "aws:cognito/userPool:UserPool": frozenset(
        {"name", "aliasAttributes", "usernameAttributes", "usernameConfiguration"}
    ),
    # internal/service/secretsmanager/secret.go
    "aws:secretsmanager/secret:Secret": frozenset({"name", "namePrefix"}),
}
"""Inputs of each stateful type that AWS cannot change in place: a change replaces it."""

Kind = Literal["replace", "delete"]

REPLACING_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})
DELETING_OPS = frozenset({"delete"})
"""``pulumi preview`` step operations that remove a resource's current instance."""


@dataclass(frozen=True)
class StatefulChange:
    """A stateful resource an update would replace or delete."""

    name: str
    """Pulumi logical name: what ``--allow-replace`` takes."""
    type: str
    kind: Kind
    because: tuple[str, ...] = ()
    """The inputs forcing a replacement (empty for a delete)."""

    @property
    def holds(self) -> str:
        return STATEFUL.get(self.type, "state")

    def describe(self) -> str:
        if self.kind == "delete":
            return f"delete {self.name} ({self.holds})"
        return f"replace {self.name} ({self.holds}; {', '.join(self.because)} changed)"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "because": list(self.because),
        }


Resources = Mapping[str, tuple[str, Mapping[str, Any]]]
"""Logical name -> (type, inputs) of a plan's resources."""


def stateful_inputs(resources: Resources) -> dict[str, tuple[str, dict[str, Any]]]:
    """Only what deciding a replacement needs: the ForceNew inputs of stateful resources."""
    return {
        name: (type_, {k: v for k, v in inputs.items() if k in FORCE_NEW[type_]})
        for name, (type_, inputs) in resources.items()
        if type_ in STATEFUL
    }


def changes_between(before: Resources, after: Resources) -> list[StatefulChange]:
    """Stateful resources of *before* that *after* replaces (a ForceNew input differs) or
    deletes (gone), in name order."""
    changes = []
    for name, (type_, old) in sorted(before.items()):
        if type_ not in STATEFUL:
            continue
        if name not in after or after[name][0] != type_:
            changes.append(StatefulChange(name, type_, "delete"))
            continue
        new = after[name][1]
        keys = tuple(sorted(k for k in FORCE_NEW[type_] if old.get(k) != new.get(k)))
        if keys:
            changes.append(StatefulChange(name, type_, "replace", keys))
    return changes


def changed_resources(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What deploying would do, from each resource's input digest as last deployed
    (*before*) and as planned now (*after*): ``create X``, ``update X``, ``delete X``."""
    found = [f"delete {name}" for name in sorted(before.keys() - after.keys())]
    found += [f"create {name}" for name in sorted(after.keys() - before.keys())]
    found += [
        f"update {name}"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    return found


IDLE_OPS = frozenset({"same", "read"})
"""``pulumi preview`` step operations that change nothing."""


def changed_steps(steps: Iterable[Step]) -> list[str]:
    """``create X``, ``update X``, ... for each step of a preview that changes something."""
    return [f"{step.op} {step.name}" for step in steps if step.op not in IDLE_OPS]


@dataclass(frozen=True)
class Step:
    """One step of ``pulumi preview`` (engine event ``resourcePreEvent.metadata``)."""

    op: str
    type: str
    name: str
    keys: tuple[str, ...] = ()
    """The properties that force a replacement (``metadata.keys``)."""


def changes_from_steps(steps: Iterable[Step]) -> list[StatefulChange]:
    """The stateful resources a preview's steps would replace or delete, once each."""
    found: dict[str, StatefulChange] = {}
    for step in steps:
        if step.type not in STATEFUL or step.name in found:
            continue
        if step.op in REPLACING_OPS:
            found[step.name] = StatefulChange(step.name, step.type, "replace", tuple(step.keys))
        elif step.op in DELETING_OPS:
            found[step.name] = StatefulChange(step.name, step.type, "delete")
    return [found[name] for name in sorted(found)]


def refused(changes: Iterable[StatefulChange], allowed: Iterable[str]) -> list[StatefulChange]:
    """The changes not named in *allowed* (``--allow-replace``)."""
    names = set(allowed)
    return [c for c in changes if c.name not in names]
