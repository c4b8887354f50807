"""Turning pydantic's validation errors into problems a person can act on.

Each ``Problem`` names the stack-config key (``tenants:payment.currency``),
the value given and the rule it broke; a ``SpecError`` carries every problem
of one input, none hidden.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.core import naming
from infra.core.text_rules import shorten

if TYPE_CHECKING:  # pydantic is imported where a spec is validated, not by every importer
    from pydantic import ValidationError


class FieldError(ValueError):
    """Raised from model validators so the error names the exact key."""

    def __init__(self, loc: tuple[str | int, ...], value: Any, rule: str) -> None:
        super().__init__(rule)
        self.loc = loc
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class Problem:
    key: str
    value: Any
    rule: str

    def __str__(self) -> str:
        key = shorten(self.key, 100)[1:-1]
        if self.value is MISSING:
            return f"{key} is required: {self.rule}"
        return f"{key} = {shorten(self.value)}: {self.rule}"


MISSING = object()


class SpecError(ValueError):
    """A tenant spec that does not validate; ``problems`` lists every broken rule.

    One problem is one line; several are a first line counting them and one
    indented line each, none hidden (the CLI prints every line).
    """

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f"{shorten(source, 200)[1:-1]}: " if source else ""
        if len(problems) <= 1:
            text = f"{where}{problems[0] if problems else 'invalid spec'}"
        else:
            lines = [f"{where}{len(problems)} problems:", *(f"  {p}" for p in problems)]
            text = "\n".join(lines)
        super().__init__(text)


def config_key(loc: tuple[str | int, ...], base: tuple[str | int, ...] = ()) -> str:
    from pydantic.alias_generators import to_camel

    parts = [*base, *loc]
    text = naming.CONFIG_NAMESPACE
    for i, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            camel = to_camel(part) if "_" in part else part
            text += ("." if i else "") + camel
    return text


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        if isinstance(data, Mapping):
            if part not in data:
                return MISSING
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return MISSING
    return data


def problems_from(exc: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, FieldError):
            problems.append(
                Problem(config_key(ctx_error.loc, loc), ctx_error.value, ctx_error.rule)
            )
            continue
        # Literal/union errors carry the branch in loc; keep the user's key only.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("literal[")))
        value = _value_at(data, loc)
        message = err["msg"].removeprefix("Value error, ")
        kind = err["type"]
        if kind == "missing":
            message = "add it to the stack config"
        elif kind == "extra_forbidden":
            message = "is not a known key; see the config reference in README.md"
        elif kind == "literal_error":
            message = "must be one of " + err["msg"].removeprefix("Input should be ")
        else:
            message = message[0].lower() + message[1:] if message else message
        problems.append(Problem(config_key(loc), value, message))
    return problems
