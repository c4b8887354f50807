"""The project's security and durability rules, as a Pulumi policy pack (``policy/``)."""
