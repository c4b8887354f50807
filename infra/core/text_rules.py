"""What a value may contain before it reaches a file, a name, a template or a terminal.

These rules apply to every string of a tenant spec, whatever its field
(``string_problems``), on top of each field's own rule:

- no control characters (C0, C1, DEL), no NUL, no lone surrogates (invalid
  UTF-8 that slipped through), no bidirectional overrides or other invisible
  format characters: such text rewrites a terminal (``\\x1b[2J``), hides text
  in a console or breaks a file;
- no template placeholders (``${...}``, ``{{``, ``{%``): values are
  substituted into portal and email templates, and a placeholder in a value
  would be substituted again at send time;
- no leading or trailing whitespace (refused, never trimmed: a value is stored
  exactly as it was checked);
- at most ``MAX_VALUE_LENGTH`` characters.

Emails are checked by ``email-validator`` and currencies against ISO 4217 from
``pycountry``: maintained lists, not hand-written patterns. ``shorten`` makes a
value safe to echo in an error message (printable, bounded).

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

MAX_VALUE_LENGTH = 2048
"""The longest string any spec value may be (fields have their own, shorter, limits)."""

ECHO_LENGTH = 60
"""How much of a value an error message repeats."""

_PLACEHOLDER = re.compile(r"\$\{|\{\{|\{%|\{#")
_ALLOWED_FORMAT = {"\u200d"}  # zero-width joiner: part of emoji and some scripts


def character_problem(value: str) -> str | None:
    """Why *value* contains a character no spec value may hold, or ``None``."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc":
            return f"must not contain control characters ({_escape_any(char)})"
        if category == "Cs":
            return "must be valid UTF-8 text (it holds an undecodable byte)"
        if category in {"Cf", "Co", "Cn"} and char not in _ALLOWED_FORMAT:
            return f"must not contain invisible or unassigned characters ({_escape_any(char)})"
        if category in {"Zl", "Zp"}:
            return f"must not contain line separators ({_escape_any(char)})"
    return None


def placeholder_problem(value: str) -> str | None:
    match = _PLACEHOLDER.search(value)
    if match:
        return (
            f"must not contain {match.group()!r}: values are placed into templates, "
            "where it would be read as a placeholder"
        )
    return None


def whitespace_problem(value: str) -> str | None:
    """Why *value* would be stored otherwise than it is compared: surrounding whitespace.

    The one rule for every string a user types: refused, never trimmed, so what is
    stored is exactly what was checked (``' USD'`` is not a currency, ``'acme '`` is
    not a platform stack)."""
    if value != value.strip():
        return "must not begin or end with spaces, tabs or line breaks"
    return None


def string_problem(value: str) -> str | None:
    """The first rule *value* breaks of those every spec string follows, or ``None``."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"must be at most {MAX_VALUE_LENGTH} characters (it has {len(value)})"
    return character_problem(value) or whitespace_problem(value) or placeholder_problem(value)


def string_problems(data: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """``(path, value, rule)`` for every string (keys included) in *data* that breaks a rule."""
    if isinstance(data, str):
        problem = string_problem(data)
        if problem:
            yield path, data, problem
    elif isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(key, str):
                problem = string_problem(key)
                if problem:
                    yield (*path, key), key, "the key " + problem
                    continue
            yield from string_problems(value, (*path, key if isinstance(key, str) else str(key)))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from string_problems(value, (*path, index))


def email_problem(value: str) -> str | None:
    """Why *value* is not an email address mail can be sent to, or ``None``."""
    # Imported here: every command imports this module (the CLI prints with it), and
    # only validation needs the validator (~30 ms of start-up).
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return f"must be an email address such as parking@example.edu ({exc})"
    return None


def currency_problem(value: str) -> str | None:
    """Why *value* is not an ISO 4217 currency charges can be made in, or ``None``."""
    import pycountry  # here for start-up time, as above (~35 ms)

    if (
        len(value) == 3
        and value.isascii()
        and value.isupper()
        and not value.startswith("X")  # X..: funds, metals, testing, "no currency"
        and pycountry.currencies.get(alpha_3=value) is not None
    ):
        return None
    return "must be an ISO 4217 currency code in capitals, e.g. USD, EUR, CAD"


def printable(text: str) -> str:
    """*text* with every non-printable character written as an escape (``\\x1b``, ``\\n``)."""
    return "".join(ch if ch.isprintable() else _escape_any(ch) for ch in text)


def _escape_any(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shorten(value: Any, limit: int = ECHO_LENGTH) -> str:
    """*value* as it may be echoed in an error: repr-quoted, printable, at most *limit* chars."""
    text = repr(value) if not isinstance(value, str) else "'" + printable(value) + "'"
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def first_of(items: Sequence[str]) -> str:
    """The first of *items* as one line, saying how many more there are: ``a (and 2 more)``."""
    more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
    return f"{items[0]}{more}" if items else ""
