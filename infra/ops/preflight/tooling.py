"""The tools' side of preflight: the Pulumi backend the deploys use, and the policy pack.

The backend is whatever ``infra.ops.stacks.deployers.current_deployer`` picks: the Pulumi
CLI (``pulumi whoami`` through the Automation API), the local target's deployer (its
state lives on the emulator), or none (the CLI is absent: cannot-check, saying so).

The policy pack is started the way ``pulumi preview --policy-pack policy`` starts it
(``python -m pulumi.policy <engine> .`` in ``policy/``): it must announce its analyzer's
port, and its ``GetAnalyzerInfo`` must list every rule ``policy.rules`` defines (read in
a separate interpreter: ``policy`` is a folder of the project, not an installed package).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from infra import PROJECT_DIR
from infra.core import naming
from infra.core import preflight as rules
from infra.core.preflight import Check
from infra.ops.adapters import aws, pulumi_cli
from infra.ops.stacks.deployers import current_deployer

POLICY_DIR = PROJECT_DIR / "policy"
PACK_START_TIMEOUT_S = 60.0
"""How long the pack may take to announce its port (importing pulumi-policy and grpc)."""


def backend(platform_stack: str, region: str) -> Check:
    deployer = current_deployer()
    org = platform_stack.split("/", 1)[0]
    if deployer is None:
        return rules.cannot(
            "pulumi-backend",
            "the Pulumi CLI is not on PATH, so the backend cannot be asked (`pulumi whoami`)",
            "install the Pulumi CLI (https://www.pulumi.com/docs/install/) and `pulumi login`",
        )
    if deployer.name != "pulumi":
        # The local target keeps each stack's outputs on the emulator: reaching its SSM
        # is reaching the backend.
        aws.client("ssm", region).describe_parameters(MaxResults=1)
        return Check(
            "pulumi-backend",
            rules.PASS,
            f"{deployer.name} deployer: stacks are applied on {os.environ.get('AWS_ENDPOINT_URL')}"
            " (no Pulumi backend; the emulator holds their outputs)",
            {"deployer": deployer.name, "endpoint": os.environ.get("AWS_ENDPOINT_URL")},
        )
    from pulumi import automation

    try:
        who = automation.LocalWorkspace(work_dir=str(PROJECT_DIR)).who_am_i()
    except automation.errors.CommandError as exc:
        lines = [ln for ln in str(getattr(exc, "stderr", "") or exc).splitlines() if ln.strip()]
        return Check(
            "pulumi-backend",
            rules.FAIL,
            f"`pulumi whoami` failed: {lines[-1].strip() if lines else type(exc).__name__}",
            {"cli": pulumi_cli.pulumi_cli_path()},
            "`pulumi login` (or set PULUMI_ACCESS_TOKEN / PULUMI_BACKEND_URL) and re-run",
        )
    organizations = list(getattr(who, "organizations", None) or [])
    evidence = {"user": who.user, "url": who.url, "organizations": organizations}
    if organizations and org not in organizations and who.user != org:
        return Check(
            "pulumi-backend",
            rules.FAIL,
            f"logged in to {who.url} as {who.user}, who is not in the organisation {org} "
            f"that holds the tenant stacks ({org}/{naming.PROJECT}/<slug>-<stage>)",
            evidence,
            f"log in with a token of the {org} organisation",
        )
    return Check("pulumi-backend", rules.PASS, f"{who.user} at {who.url}", evidence)


def _rule_names() -> tuple[list[str] | None, str | None]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from policy import rules; "
        "print(json.dumps(sorted([*rules.RESOURCE_RULES, *rules.STACK_RULES])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(PROJECT_DIR)],
        capture_output=True,
        text=True,
        timeout=PACK_START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        return None, f"policy.rules does not import: {_last_line(done.stderr)}"
    names: list[str] = json.loads(done.stdout)
    return names, None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _served(pack_dir: Path) -> tuple[str | None, list[str] | None, str | None]:
    """The pack's name and policies as its analyzer reports them, or why it did not start."""
    import grpc  # type: ignore[import-untyped]
    from google.protobuf import empty_pb2
    from pulumi.runtime.proto import analyzer_pb2_grpc

    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=pack_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first: list[str] = []
        reader = threading.Thread(
            target=lambda: first.append(process.stdout.readline() if process.stdout else ""),
            daemon=True,
        )
        reader.start()
        reader.join(PACK_START_TIMEOUT_S)
        port = first[0].strip() if first else ""
        if not port.isdigit():
            process.kill()
            _, stderr = process.communicate(timeout=10)
            why = _last_line(stderr) if stderr else f"no port within {PACK_START_TIMEOUT_S:g}s"
            return None, None, why
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            info: Any = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(
                empty_pb2.Empty(), timeout=30
            )
        return str(info.name), [str(p.name) for p in info.policies], None
    except grpc.RpcError as exc:
        return None, None, f"the analyzer did not answer: {exc.code().name}"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def policy_pack(pack_dir: Path = POLICY_DIR) -> Check:
    expected, error = _rule_names()
    if expected is None:
        return rules.policy_pack([], None, None, error)
    name, served, error = _served(pack_dir)
    return rules.policy_pack(expected, served, name, error)
