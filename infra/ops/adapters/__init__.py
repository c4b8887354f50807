"""Adapters: how the operations reach each system, and nothing about what they do with it.

AWS clients, PostgreSQL (stack databases and configuration tables), the Pulumi CLI
through the Automation API, YAML files on disk, the content and payment stores, the
control database with its migrations, the fault translator, the test checkpoints.
The lowest layer of ``infra.ops``: it imports no other sub-package.
"""
