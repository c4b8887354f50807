"""Stacks: one stack as the operations see it.

Its handle and how it is opened (stack file and outputs read once), its stack file,
the platform outputs file beside it, the client's lock, and how it is deployed from
this machine. Imports only adapters.
"""
