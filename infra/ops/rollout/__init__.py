"""Rollout: the five phases account staff follow, per client and contract.

The store, the transitions, the reads, one command per CLI command, the tasks observed
on the real systems, the promotion gate, billing milestones through the outbox, the
portfolio report. The top layer of ``infra.ops``.
"""
