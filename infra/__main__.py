"""The Pulumi program of a tenant stack (``Pulumi.yaml``: ``main: infra/``)."""

import pulumi

from infra.program.stack import define_stack, spec_from_pulumi_config

for _name, _value in define_stack(spec_from_pulumi_config()).items():
    pulumi.export(_name, _value)
