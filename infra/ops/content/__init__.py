"""Content: phase 3, the client's own content in its preview.

Pulling, diffing, checking and pushing content releases, the local content preview,
email (allow-list, test sends) and data imports (the command, the engine, its SQL).
Imports stacks and adapters; independent of planning.
"""
