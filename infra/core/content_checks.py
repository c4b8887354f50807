"""Checks a folder of portal content must pass before it becomes a release.

``check_content(files, allowed_origins)`` returns every problem found, each
with the file and line it is on, so a client fixes them all in one go. A push
publishes nothing while any problem remains.

What is checked, per file:

- the key is a content key (``portal/``, ``email/`` or ``messages/``, no ``..``)
  and the file is within ``MAX_FILE_BYTES`` (the whole release within
  ``MAX_RELEASE_BYTES``);
- text is UTF-8 and parses as a Jinja template (published content is served as
  is, so Jinja tags that survived are reported too: use ``${name}``);
- every ``${name}`` is one the application provides for that page, email or
  message (``infra.core.placeholders``);
- HTML is well formed (html5lib's parse errors, with line and column);
- ``<script src>``, stylesheet ``<link href>`` and CSS ``@import`` load only
  from the site itself or an origin in ``branding.allowedOrigins``;
- JSON files parse, and ``email/subjects.json`` and ``messages/portal.json``
  have every entry the application sends;
- every file in ``placeholders.REQUIRED_FILES`` is present.

Pure logic: no Pulumi, boto3 or database imports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import html5lib
import jinja2
from jinja2 import nodes

from infra.core import placeholders as ph

MAX_FILE_BYTES = 512 * 1024
MAX_RELEASE_BYTES = 16 * 1024 * 1024
MAX_FILES = 500
SECTIONS = ("portal/", "email/", "messages/")
TEXT_SUFFIXES = (".html", ".htm", ".txt", ".css", ".json", ".svg")
_KEY = re.compile(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*\Z")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""", re.I)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file; ``line`` 0 means the file as a whole."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else (f"{self.file}: {self.message}")
        )

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "message": self.message}


_ENV = jinja2.Environment(autoescape=False)


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 0


def _jinja_problems(key: str, text: str) -> list[Problem]:
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return [Problem(key, exc.lineno or 0, f"template does not parse: {exc.message}")]
    problems: list[Problem] = []
    for node in tree.body:
        plain = isinstance(node, nodes.Output) and all(
            isinstance(child, nodes.TemplateData) for child in node.nodes
        )
        if not plain:
            problems.append(
                Problem(
                    key,
                    node.lineno,
                    "Jinja tag in published content is shown as is, never evaluated; "
                    "write the text, or a ${placeholder} the application fills",
                )
            )
    return problems


def _placeholder_problems(
    key: str, text: str, allowed: frozenset[str], what: str, first_line: int = 1
) -> list[Problem]:
    problems = []
    for offset, line in enumerate(text.splitlines()):
        for match in ph.PLACEHOLDER.finditer(line):
            name = match.group(1)
            if name not in allowed:
                known = ", ".join(f"${{{n}}}" for n in sorted(allowed)) or "none"
                problems.append(
                    Problem(
                        key,
                        first_line + offset,
                        f"unknown placeholder ${{{name}}} in {what} (known: {known})",
                    )
                )
    return problems


def _html_problems(key: str, text: str, allowed_origins: Iterable[str]) -> list[Problem]:
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("etree"), namespaceHTMLElements=False)
    document = parser.parse(text)
    problems = [
        Problem(key, line, f"HTML not well formed at column {col}: {code.replace('-', ' ')}")
        for (line, col), code, _ in parser.errors
    ]
    allowed = set(allowed_origins)
    for element in document.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        url = None
        if tag == "script" and element.get("src"):
            url = element.get("src")
        elif tag == "link" and "stylesheet" in (element.get("rel") or "").lower().split():
            url = element.get("href")
        elif tag == "style":
            for found in _CSS_IMPORT.findall(element.text or ""):
                problems += _origin_problem(key, text, found, allowed)
        if url:
            problems += _origin_problem(key, text, url, allowed)
    return problems


def _origin_problem(key: str, text: str, url: str, allowed: set[str]) -> list[Problem]:
    parts = urlsplit(url)
    if not parts.netloc and not parts.scheme:
        return []  # the site itself
    origin = f"{parts.scheme or 'https'}://{parts.netloc}".lower()
    if origin in allowed:
        return []
    hint = "add it to branding.allowedOrigins in the stack file, or serve it from the portal"
    return [Problem(key, _line_of(text, url), f"loads {url} from {origin}, not allowed; {hint}")]


def _json_problems(key: str, text: str) -> tuple[object | None, list[Problem]]:
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [Problem(key, exc.lineno, f"not valid JSON: {exc.msg}")]


def _subjects_problems(key: str, text: str, data: object) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem(key, 1, "must be a JSON object of email name -> subject")]
    problems = [
        Problem(key, 0, f"has no subject for email {name!r}")
        for name in ph.EMAILS
        if name not in data
    ]
    for name, subject in data.items():
        line = _line_of(text, json.dumps(name))
        if name not in ph.EMAILS:
            problems.append(Problem(key, line, f"{name!r} is not an email the portal sends"))
        elif not isinstance(subject, str) or not subject.strip():
            problems.append(Problem(key, line, f"subject of {name!r} must be non-empty text"))
        else:
            allowed = frozenset(ph.EMAILS[name][1])
            problems += _placeholder_problems(key, subject, allowed, f"subject {name!r}", line)
    return problems


def _messages_problems(key: str, text: str, data: object) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem(key, 1, "must be a JSON object of code -> {title, body, severity}")]
    problems = [
        Problem(key, 0, f"has no message {code!r}") for code in ph.MESSAGES if code not in data
    ]
    for code, message in data.items():
        line = _line_of(text, json.dumps(code))
        if not isinstance(message, dict) or not all(
            isinstance(message.get(f), str) for f in ("title", "body", "severity")
        ):
            problems.append(Problem(key, line, f"{code!r} needs text title, body and severity"))
            continue
        if message["severity"] not in ("info", "warning", "error"):
            problems.append(Problem(key, line, f"{code!r} severity must be info/warning/error"))
        allowed = frozenset(ph.MESSAGES.get(code, ()))
        for field in ("title", "body"):
            problems += _placeholder_problems(
                key, message[field], allowed, f"message {code!r}", line
            )
    return problems


def key_problem(key: str) -> str | None:
    """Why *key* cannot be a content key, or ``None``."""
    if not key.startswith(SECTIONS):
        return f"not under {', '.join(SECTIONS)}; the portal serves nothing else"
    if not _KEY.fullmatch(key) or ".." in key.split("/"):
        return "name must be lowercase letters, digits, '.', '_' and '-' in folders"
    return None


def check_file(key: str, body: bytes, allowed_origins: Iterable[str] = ()) -> list[Problem]:
    """Every problem of one content file."""
    problem = key_problem(key)
    if problem:
        return [Problem(key, 0, problem)]
    if len(body) > MAX_FILE_BYTES:
        return [Problem(key, 0, f"{len(body)} bytes, more than the {MAX_FILE_BYTES} allowed")]
    if not key.endswith(TEXT_SUFFIXES):
        return []  # images and fonts: served as they are
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        return [Problem(key, line, "not UTF-8 text")]
    problems = _jinja_problems(key, text)
    allowed = ph.allowed_in_file(key)
    if allowed is not None:
        problems += _placeholder_problems(key, text, allowed, key.rsplit("/", 1)[-1])
    if key.endswith((".html", ".htm")):
        problems += _html_problems(key, text, allowed_origins)
    elif key.endswith(".css"):
        for url in _CSS_IMPORT.findall(text):
            problems += _origin_problem(key, text, url, set(allowed_origins))
    elif key.endswith(".json"):
        data, json_problems = _json_problems(key, text)
        problems += json_problems
        if not json_problems and key == ph.SUBJECTS_FILE:
            problems += _subjects_problems(key, text, data)
        elif not json_problems and key == ph.MESSAGES_FILE:
            problems += _messages_problems(key, text, data)
    return problems


def check_content(files: Mapping[str, bytes], allowed_origins: Iterable[str] = ()) -> list[Problem]:
    """Every problem of a whole release's *files*, sorted by file and line."""
    origins = list(allowed_origins)
    problems: list[Problem] = []
    for key in sorted(files):
        problems += check_file(key, files[key], origins)
    problems += [
        Problem(key, 0, "missing; the portal needs it (pull a release to get the default)")
        for key in ph.REQUIRED_FILES
        if key not in files
    ]
    total = sum(len(body) for body in files.values())
    if total > MAX_RELEASE_BYTES:
        problems.append(Problem("(release)", 0, f"{total} bytes, more than {MAX_RELEASE_BYTES}"))
    if len(files) > MAX_FILES:
        problems.append(Problem("(release)", 0, f"{len(files)} files, more than {MAX_FILES}"))
    return sorted(problems)
