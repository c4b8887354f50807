"""Integrations' data plane, pure: the canonical session record, time parsing, vendor
adapters (one module per vendor shape, mapped by ``adapters.registry``) and the zone
matcher. No Pulumi, AWS SDK, database or YAML imports."""
