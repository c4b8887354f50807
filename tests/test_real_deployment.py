"""The README's "Real deployment" steps are the tested path: each step names tests that exist
and run its command, in the order a platform engineer follows, starting with preflight."""

from __future__ import annotations

import ast
import re

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Real deployment\n") : README.index("**Destructive changes.**")]
STEP = re.compile(
    r"^(\d+)\. \*\*(?P<title>[^*]+)\.\*\*(?P<body>.*?)(?=^\d+\. \*\*|\Z)", re.M | re.S
)
TEST_REF = re.compile(r"`(?P<file>tests/[\w/]+\.py)::(?P<test>test_\w+)`")
COMMAND = re.compile(r"`tenantctl (?P<word>[a-z][a-z-]*)")


def steps() -> list[tuple[str, str]]:
    found = [(m["title"], " ".join(m["body"].split())) for m in STEP.finditer(SECTION)]
    assert found, "no numbered steps in the README's Real deployment section"
    return found


def function_source(file: str, name: str) -> str | None:
    """The source of test function *name* in *file* and of the module's functions it calls
    (helpers such as ``preflight(folder)``), or None when there is no such test."""
    path = ROOT / file
    if not path.is_file():
        return None
    source = path.read_text()
    functions = {
        node.name: node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)
    }
    test = functions.get(name)
    if test is None:
        return None
    called = {
        n.func.id
        for n in ast.walk(test)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in functions
    }
    parts = [test, *(functions[c] for c in sorted(called))]
    return "\n".join(str(ast.get_source_segment(source, node)) for node in parts)


def test_the_first_step_is_preflight():
    title, body = steps()[0]

    assert title == "Preflight" and body.startswith("`tenantctl preflight")


def test_every_step_names_tests_that_exist_and_run_its_command():
    for title, body in steps():
        refs = [(m["file"], m["test"]) for m in TEST_REF.finditer(body)]
        assert refs, f"step {title!r} names no test"
        sources = {ref: function_source(*ref) for ref in refs}
        missing = [f"{f}::{t}" for (f, t), source in sources.items() if source is None]
        assert missing == [], f"step {title!r} names tests that do not exist: {missing}"
        for word in {m["word"] for m in COMMAND.finditer(body)}:
            # the command runs in one of the named tests (`cli(..., "word", ...)` or a script)
            assert any(f'"{word}"' in str(s) for s in sources.values()), (
                f"step {title!r}: none of its tests runs `tenantctl {word}`"
            )


def test_the_steps_name_the_new_platform_prerequisites_and_the_checks_that_find_them():
    before = SECTION[: SECTION.index("**A first client**")]

    assert "`emailIdentityArn`" in before and "`accessLogBucketName`" in before
    preflight = steps()[0][1]
    assert "SES identity verified" in preflight and "the log bucket" in preflight
