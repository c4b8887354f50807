"""A generated hostile-input sweep (>= 1,000 cases) through the CLI, in process.

Every case is invalid by construction (a hostile string placed into a valid
value, a field-specific invalid value, or a hostile file structure), so an
exit code 0 counts as "invalid accepted". Exit code 1, an exception escaping
click, or a raw escape character in the output counts as a traceback. Cases:
create options, tenant files, stack files (read by list, status and
reset-preview, next to a valid tenant that must still be reported).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from infra.cli import main
from tests.helpers import EXAMPLE, ROOT, with_platform
from tests.robustness_support import Counts

pytestmark = pytest.mark.robustness

HOSTILE = [
    "\x1b[2J\x1b[31mRED",
    "a\x00b",
    "line\nbreak",
    "tab\there",
    "cr\rhere",
    "del\x7fhere",
    "\x9b31mC1",
    "\u202eevil",
    "zero\u200bwidth",
    "\u2028sep",
    "${reset_link}",
    "{{ user.password }}",
    "{% include x %}",
    "x" * 5000,
    "\udcff\udcfe",
]
POSITIONS = ("prefix", "middle", "suffix")
EDGES = [" ", "\u00a0", "\u3000", "\n"]
"""Whitespace that is wrong only around a value (a space inside a display name is fine)."""


def hostile_placements() -> Iterator[tuple[str, str]]:
    """Every hostile text with every position it is wrong in."""
    for hostile in HOSTILE:
        for position in POSITIONS:
            yield hostile, position
    for edge in EDGES:
        for position in ("prefix", "suffix"):
            yield edge, position


def place(valid: str, hostile: str, position: str) -> str:
    if position == "prefix":
        return hostile + valid
    if position == "suffix":
        return valid + hostile
    half = len(valid) // 2
    return valid[:half] + hostile + valid[half:]


VALID_OPTIONS = {
    "--display-name": "Acme College Parking",
    "--platform-stack": "acme/platform/prod",
    "--payment-provider": "stripe",
    "--merchant-id": "acct_1AcmeCollege01",
    "--currency": "USD",
    "--organization": "Acme College",
    "--support-email": "parking@acme.example.edu",
    "--support-phone": "+1 555 010 2000",
    "--primary-color": "#0b5394",
    "--logo-url": "https://acme.example.edu/logo.png",
    "--admin": "pat@acme.example.edu:Pat Lee:administrator",
    "--portal-domain": "parking.acme.example.edu",
}
FIELD_INVALID = {
    "--support-email": [
        "a@-.co",
        "a..b@x.example",
        "x" * 300 + "@x.example",
        "@x.example",
        "a@b",
        "a b@x.example",
        '"q"@x.example',
    ],
    "--currency": ["XYZ", "QQQ", "usd", "US", "USDD", "XXX", "XTS", "U$D"],
    "--primary-color": ["#12345", "red", "#GGGGGG"],
    "--logo-url": ["http://x.example/logo.png", "javascript:alert(1)", "https://"],
    "--admin": ["pat@x.example", "bad:Pat:administrator", "pat@x.example:Pat:owner"],
    "--portal-domain": ["-bad.example", "a..b", "parking.tenants.example.com"],
    "--platform-stack": ["one", "a/b", "a/b/c/d"],
}
BAD_SLUGS = [
    "-acme",
    "--",
    "Acme",
    "a",
    "acme\nx",
    "acme/../../etc",
    "x" * 300,
    "admin",
    "a_b",
    "acme\n",
    " acme",
    "acme ",
]


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


def judge(counts: Counts, case: str, result: Result, must_fail: bool = True) -> None:
    counts.cases += 1
    output = result.output
    escaped = isinstance(result.exception, Exception) and not isinstance(
        result.exception, SystemExit
    )
    if result.exit_code == 1 or escaped or "\x1b" in output or "Traceback" in output:
        counts.tracebacks += 1
        counts.details.append(
            f"{case!r}: exit {result.exit_code} {result.exception!r} {output[-200:]!r}"
        )
    elif must_fail and result.exit_code == 0:
        counts.invalid_accepted += 1
        counts.details.append(f"{case!r}: accepted")


def create_cases() -> Iterator[tuple[str, list[str]]]:
    for option, valid in VALID_OPTIONS.items():
        for hostile, position in hostile_placements():
            yield f"{option} {position} {hostile[:12]!r}", [option, place(valid, hostile, position)]
        for bad in FIELD_INVALID.get(option, []):
            yield f"{option} invalid", [option, bad]


def test_create_options_sweep(tmp_path: Path):
    counts = Counts("hostile-create-options")
    stacks = with_platform(tmp_path / "stacks")
    for case, override in create_cases():
        options = dict(VALID_OPTIONS)
        options[override[0]] = override[1]
        args = ["create", "acme", "--no-deploy", "--stacks-dir", str(stacks)]
        for option, value in options.items():
            args += [option, value]
        judge(counts, case, invoke(args))
        if any(stacks.glob("Pulumi.*")):
            counts.invalid_accepted += 1
            counts.details.append(f"{case}: files written for invalid input")
            shutil.rmtree(stacks)
            with_platform(stacks)
    for slug in BAD_SLUGS:
        args = ["create", slug, "--no-deploy", "--stacks-dir", str(stacks)]
        for option, value in VALID_OPTIONS.items():
            args += [option, value]
        judge(counts, f"slug {slug!r}", invoke(args))
        for command in (["reset-preview", slug, "--yes"], ["promote", slug, "--dry-run"]):
            judge(counts, f"{command[0]} {slug!r}", invoke([*command, "--stacks-dir", str(stacks)]))
    # the valid baseline is accepted (the sweep can tell valid from invalid)
    args = ["create", "acme", "--no-deploy", "--stacks-dir", str(stacks)]
    for option, value in VALID_OPTIONS.items():
        args += [option, value]
    assert invoke(args).exit_code == 0
    counts.check()
    assert counts.cases >= 500


# -------------------------------------------------------------------- tenant files


def example() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(EXAMPLE.read_text())
    data.pop("slug", None)
    return data


TENANT_FIELDS: list[tuple[str | int, ...]] = [
    ("displayName",),
    ("platformStack",),
    ("payment", "merchantId"),
    ("payment", "currency"),
    ("branding", "organizationName"),
    ("branding", "supportEmail"),
    ("admins", 0, "name"),
    ("admins", 0, "email"),
    ("production", "portalDomain"),
]


def set_at(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def get_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
STRUCTURAL: dict[str, bytes] = {
    "alias bomb": BOMB.encode(),
    "merge key": b"base: &b {displayName: Acme}\nother:\n  <<: *b\n",
    "deep flow": b"displayName: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep block": "".join("  " * i + f"k{i}:\n" for i in range(200)).encode()
    + b"  " * 200
    + b"v\n",
    "invalid utf-8": b"displayName: \xff\xfe\xfd\n",
    "utf-16": "displayName: Acme\n".encode("utf-16"),
    "nul byte": b"displayName: a\x00b\n",
    "20 MB": b"# " + b"x" * (20 * 1024 * 1024) + b"\n",
    "empty": b"",
    "list root": b"- a\n- b\n",
    "scalar root": b"just text\n",
    "tabs": b"displayName:\tAcme\n\tplatformStack: x\n",
    "duplicate keys": b"displayName: A\ndisplayName: B\n",
    "bad indentation": b"payment:\n  provider: stripe\n merchantId: x\n",
    "binary junk": bytes(range(256)) * 4,
    "unknown tag": b"displayName: !!python/object:os.system ls\n",
    "binary tag": b"displayName: !!binary QWNtZQ==\n",
    "timestamp tag": b"displayName: !!timestamp 2026-12-06\n",
    "set tag": b"displayName: !!set {a: null}\n",
    "local tag": b"displayName: !acme Acme\n",
    "huge int": b"payment: {currency: " + b"9" * 5000 + b"}\n",
    "many keys": b"".join(f"k{i}: v\n".encode() for i in range(30000)),
    "stage section not a mapping": b"production: [1, 2]\n",
    "live in file": b"live: true\n",
}


def tenant_cases() -> Iterator[tuple[str, bytes]]:
    for path in TENANT_FIELDS:
        valid = str(get_at(example(), path))
        for hostile, position in hostile_placements():
            data = example()
            set_at(data, path, place(valid, hostile, position))
            text = json.dumps(data, ensure_ascii=True)  # JSON is YAML; \\udcff stays escaped
            yield f"{'.'.join(map(str, path))} {position} {hostile[:12]!r}", text.encode()
        for wrong in (None, 42, ["a"], {"a": 1}, True, ""):
            if wrong is None and path == ("production", "portalDomain"):
                continue  # optional: leaving it out is valid
            data = example()
            set_at(data, path, wrong)
            yield f"{'.'.join(map(str, path))} = {wrong!r}", json.dumps(data).encode()
    yield from STRUCTURAL.items()


def test_tenant_file_sweep(tmp_path: Path):
    counts = Counts("hostile-tenant-files")
    stacks = with_platform(tmp_path / "stacks")
    source = tmp_path / "tenant.yaml"
    for case, body in tenant_cases():
        source.write_bytes(body)
        judge(
            counts,
            case,
            invoke(
                [
                    "create",
                    "acme",
                    "--from",
                    str(source),
                    "--no-deploy",
                    "--stacks-dir",
                    str(stacks),
                ]
            ),
        )
        if any(stacks.glob("Pulumi.*")):
            counts.invalid_accepted += 1
            counts.details.append(f"{case}: files written")
            shutil.rmtree(stacks)
            with_platform(stacks)
    source.write_text(json.dumps(example()))
    assert (
        invoke(
            ["create", "acme", "--from", str(source), "--no-deploy", "--stacks-dir", str(stacks)]
        ).exit_code
        == 0
    )
    counts.check()
    assert counts.cases >= 300


# --------------------------------------------------------------------- stack files


STACK_KEYS = [
    "tenants:displayName",
    "tenants:platformStack",
    "tenants:payment.merchantId",
    "tenants:branding.organizationName",
    "tenants:branding.supportEmail",
    "aws:region",
]


def stack_cases(text: str) -> Iterator[tuple[str, bytes]]:
    config = YAML(typ="safe").load(text)
    for key in STACK_KEYS:
        for hostile, position in hostile_placements():
            if position != "middle":  # a stack file's values, at either end
                data = json.loads(json.dumps(config))
                parts = key.split(".")
                target = data["config"]
                for part in parts[:-1]:
                    target = target.setdefault(part, {})
                valid = str(target.get(parts[-1], "x"))
                target[parts[-1]] = place(valid, hostile, position)
                yield f"{key} {position} {hostile[:12]!r}", json.dumps(data).encode()
    yield from STRUCTURAL.items()


def test_stack_file_sweep(tmp_path: Path, aws_env: str):
    counts = Counts("hostile-stack-files")
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks)
    options = []
    for option, value in VALID_OPTIONS.items():
        options += [option, value]
    assert (
        invoke(["create", "acme", "--no-deploy", "--stacks-dir", str(stacks), *options]).exit_code
        == 0
    )
    path = stacks / "Pulumi.demo-preview.yaml"
    original = path.read_bytes()
    for index, (case, body) in enumerate(stack_cases(original.decode())):
        path.write_bytes(body)
        result = invoke(["list", "--json", "--stacks-dir", str(stacks)])
        judge(counts, f"list: {case}", result)
        if result.exit_code == 2 and "acme" not in result.stdout:
            counts.broken_states += 1
            counts.details.append(f"list: {case}: the valid tenant was not reported")
        if index % 4:
            continue  # the commands below read the file the same way; a quarter keeps it fast
        for command in (
            ["status", "--json"],
            ["reset-preview", "demo", "--yes"],
            ["plan", "demo", "--stage", "preview"],
        ):
            judge(counts, f"{command[0]}: {case}", invoke([*command, "--stacks-dir", str(stacks)]))
    path.write_bytes(original)
    assert invoke(["list", "--stacks-dir", str(stacks)]).exit_code == 0
    counts.check()
    assert counts.cases >= 300
