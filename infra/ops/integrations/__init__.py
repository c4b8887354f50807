"""Integrations' data plane against a stage's working database: ingesting sessions
(batch and row by row), the quarantine, the enforcement lookup, and the pull client."""
