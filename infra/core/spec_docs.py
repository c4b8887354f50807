"""The spec's documentation, reflected from the model: one row per stack-config key.

Feeds the ``config:`` block of ``Pulumi.yaml`` and the README reference
(``scripts/gen-docs``), so descriptions, types and defaults are written once,
on the model's fields.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from infra.core.spec import TenantSpec


def config_reference() -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every stack-config key, top level first."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = prefix + to_camel(name)
            annotation = field.annotation
            nested = _nested_model(annotation)
            type_name = _type_name(annotation)
            if field.is_required():
                default = "(required)"
            elif field.default_factory is not None or field.default is None:
                default = ""
            else:
                default = (
                    str(field.default).lower()
                    if isinstance(field.default, bool)
                    else str(field.default)
                )
            rows.append((key, type_name, default, field.description or ""))
            if nested is not None:
                walk(nested, key + ("[]." if type_name.startswith("list") else "."))

    walk(TenantSpec, "")
    return rows


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_name(get_args(annotation)[0])
    if origin in (Union, UnionType):
        present = [a for a in get_args(annotation) if a is not type(None)]
        return _type_name(present[0]) if len(present) == 1 else "string"
    if origin is list:
        (item,) = get_args(annotation) or (str,)
        return (
            "list of objects" if _nested_model(item) is not None else f"list of {_type_name(item)}s"
        )
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    return "string"
