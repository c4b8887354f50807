"""The policy pack: ``pulumi preview --policy-pack policy`` runs the rules in ``policy.rules``.

The engine starts ``python -u -m pulumi.policy <engine> .`` in this folder, which runs
this file as ``__main__``; ``PolicyPack`` then serves the engine over gRPC and never
returns. The policies themselves are built in ``policy.pack``, which the tests import.

The engine gives no ``retainOnDelete`` to policies, so that half of the production
rules runs in the tests (over the mock-runtime plans) only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi_policy import PolicyPack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project, for infra.core

from policy import pack

if __name__ == "__main__":
    PolicyPack(name=pack.NAME, enforcement_level=pack.ENFORCEMENT, policies=pack.policies())
