"""Render ``templates/`` with a tenant's branding.

The portal, email and message templates become the ``defaults/`` objects of
the stack's content bucket; ``templates/db`` becomes the defaults database.
Files whose name starts with ``_`` are partials (layouts, includes) and are not
published on their own.

Provisioning-time values use Jinja (``{{ branding.organization_name }}``);
values the application fills in when it sends an email or shows a page use
``${name}``, which Jinja leaves alone.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from infra import PROJECT_DIR
from infra.core.providers import PROVIDERS
from infra.core.spec import TenantSpec

TEMPLATES_DIR = PROJECT_DIR / "templates"
CONTENT_SECTIONS = ("portal", "email", "messages")
"""Template folders published as content, each to ``defaults/<section>/…``."""
DB_DIR = "db"
DB_SCHEMA = f"{DB_DIR}/schema.sql"
DB_SEED = f"{DB_DIR}/seed.sql.j2"
MESSAGES_FILE = "messages/portal.json"
"""System messages: published as content and seeded into ``config.system_messages``."""

_AUTOESCAPE = ("html", "htm", "xml")


def sql_literal(value: Any) -> str:
    """Quote *value* as a PostgreSQL literal (for the seed template)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if "\x00" in text:
        raise ValueError("NUL bytes cannot be stored in PostgreSQL text")
    return "'" + text.replace("'", "''") + "'"


@cache
def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=_AUTOESCAPE, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sql"] = sql_literal
    return env


def render_context(spec: TenantSpec) -> dict[str, Any]:
    """The variables every template sees. Documented in ``templates/README.md``."""
    b = spec.branding
    provider = PROVIDERS[spec.payment.provider]
    return {
        "tenant": {
            "slug": spec.slug,
            "stage": spec.stage,
            "display_name": spec.display_name,
            "is_preview": spec.stage == "preview",
            "is_live": spec.live,
        },
        "branding": {
            "organization_name": b.organization_name,
            "primary_color": b.primary_color,
            "accent_color": b.accent_color,
            "logo_url": b.logo_url,
            "support_email": b.support_email,
            "support_phone": b.support_phone,
        },
        "urls": {
            "portal": f"https://{spec.public_portal_host}",
            "admin": f"https://{spec.admin_host}",
        },
        "payment": {
            "provider": provider.name,
            "provider_title": provider.title,
            "currency": spec.payment.currency,
        },
    }


def _template_names(templates_dir: Path, section: str) -> list[str]:
    root = templates_dir / section
    return sorted(
        path.relative_to(templates_dir).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not path.name.startswith(("_", "."))
    )


def render_content(spec: TenantSpec, templates_dir: Path = TEMPLATES_DIR) -> dict[str, bytes]:
    """Every published template rendered for *spec*: ``{"portal/home.html": b"..."}``."""
    env = _environment(templates_dir)
    context = render_context(spec)
    files: dict[str, bytes] = {}
    for section in CONTENT_SECTIONS:
        for name in _template_names(templates_dir, section):
            try:
                text = env.get_template(name).render(context)
            except jinja2.TemplateError as exc:
                raise RenderError(f"templates/{name}: {exc}") from exc
            files[name] = text.encode("utf-8")
    if not files:
        raise RenderError(f"no templates found under {templates_dir}")
    return files


def manifest_bytes(manifest: Mapping[str, str]) -> bytes:
    """The canonical serialization of a manifest (stable, so its own hash is stable)."""
    return (json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n").encode("utf-8")


def system_messages(spec: TenantSpec, templates_dir: Path = TEMPLATES_DIR) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_content_file(spec, MESSAGES_FILE, templates_dir))
    return data


def render_content_file(spec: TenantSpec, name: str, templates_dir: Path = TEMPLATES_DIR) -> str:
    env = _environment(templates_dir)
    try:
        return env.get_template(name).render(render_context(spec))
    except jinja2.TemplateError as exc:
        raise RenderError(f"templates/{name}: {exc}") from exc


def render_db_schema(templates_dir: Path = TEMPLATES_DIR) -> str:
    return (templates_dir / DB_SCHEMA).read_text(encoding="utf-8")


def render_db_seed(spec: TenantSpec, templates_dir: Path = TEMPLATES_DIR) -> str:
    """The defaults database seed for *spec*, as SQL."""
    env = _environment(templates_dir)
    context = {**render_context(spec), "messages": system_messages(spec, templates_dir)}
    try:
        return env.get_template(DB_SEED).render(context)
    except jinja2.TemplateError as exc:
        raise RenderError(f"templates/{DB_SEED}: {exc}") from exc


class RenderError(ValueError):
    """A template that does not render for a tenant."""
