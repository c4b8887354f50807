"""Planning: what a change would do, before it is made.

The offline plan under the mock runtime, capacity against AWS quotas, the stacks a
commit range affects, the platform outputs file. Imports stacks and adapters;
independent of content.
"""
