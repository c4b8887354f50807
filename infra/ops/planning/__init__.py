"""Planning: what a change would do, before it is made.

The offline plan under the mock runtime, capacity against AWS quotas, the stacks a
commit range affects. Imports stacks and adapters; independent of content.
"""
