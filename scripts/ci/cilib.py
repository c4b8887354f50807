"""What the CI scripts share: running tenantctl, and writing GitHub outputs and summaries.

The scripts in scripts/ci/ hold the pipelines' logic so that the workflows stay
thin and the test suite can run every script end to end. They use only the
standard library and talk to the product through the `tenantctl` command.
Outside GitHub Actions, outputs and summaries go to stdout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PRECONDITION = 3
EXIT_LOCKED = 4
EXIT_UNREACHABLE = 5
EXIT_CHANGES = 6


def tenantctl_command() -> list[str]:
    """`tenantctl` from PATH, else the one beside this Python (the project's .venv)."""
    found = shutil.which("tenantctl") or str(Path(sys.executable).with_name("tenantctl"))
    return [found]


def tenantctl(*args: str, merge_stderr: bool = False) -> tuple[int, str]:
    """Run tenantctl; its stdout, and its stderr (progress, the one-line error) either passed
    through to ours or, with *merge_stderr*, appended to the returned text."""
    done = subprocess.run(
        [*tenantctl_command(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else None,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout


def qualified_stacks() -> dict[str, str]:
    """``{"<slug>-<stage>": "<org>/tenants/<slug>-<stage>"}`` for every readable stack file.

    Pulumi resolves a bare stack name against the token's default organisation; tenant
    stacks live in their platform's. The name comes from tenantctl (``list --json``,
    ``qualifiedStack``), which derives it in one place (``naming.qualified_stack_name``);
    pass it to every ``pulumi --stack``."""
    _, out = tenantctl("list", "--json")  # a broken stack file is that stack's error only
    document = load_json(out) or {}
    return {
        info["stack"]: info["qualifiedStack"]
        for row in document.get("tenants", [])
        for info in row["stages"].values()
        if info.get("qualifiedStack")
    }


def short_stack(stack: str) -> str:
    """``<slug>-<stage>`` of a qualified (or already short) stack name."""
    return stack.rsplit("/", 1)[-1]


def load_json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return None


def set_output(name: str, value: str) -> None:
    """One step output (`$GITHUB_OUTPUT`), multi-line safe."""
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        print(f"output {name}={value}")
        return
    delimiter = f"EOF_{uuid.uuid4().hex}"
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def summary(markdown: str) -> None:
    """Append to the run summary (`$GITHUB_STEP_SUMMARY`)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        print(markdown)
        return
    with open(target, "a", encoding="utf-8") as f:
        f.write(markdown.rstrip("\n") + "\n\n")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def cell(text: Any) -> str:
    """A value safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def fence(text: str) -> str:
    """*text* in a code block no line of it can close."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}text\n{text.rstrip()}\n{ticks}"
