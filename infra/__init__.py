"""tenantctl: each client's preview and production stacks as code."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
"""The Pulumi project: ``Pulumi.yaml``, ``stacks/`` and ``templates/`` live here."""
