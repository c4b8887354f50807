"""The dependency ranges in pyproject.toml allow only what the program is tested with."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from packaging.requirements import Requirement
from packaging.version import Version

from tests.helpers import ROOT


def _requirement(name: str) -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == name]
    assert len(found) == 1, f"{name} must be listed once"
    return found[0]


def test_pulumi_aws_range_is_the_tested_major_version_only() -> None:
    requirement = _requirement("pulumi-aws")
    installed = Version(version("pulumi-aws"))

    assert installed in requirement.specifier
    # Every release of another major version is outside the range.
    assert Version(f"{installed.major - 1}.99.0") not in requirement.specifier
    assert Version(f"{installed.major + 1}.0.0") not in requirement.specifier
