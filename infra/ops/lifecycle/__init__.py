"""Lifecycle: a client's two stacks from creation to go-live.

create, deploy and post-provision, reset-preview and its undo, promote (its plan and
its steps) and rollback, payment credentials, list and status. Imports content,
planning, stacks and adapters; never the rollout (promote takes its gate as an
argument).
"""
