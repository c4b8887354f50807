"""What the engine sends the policy pack, built from a mock-runtime plan.

The engine marshals a resource's inputs into a protobuf ``Struct`` (secrets as signed
objects, values it does not know yet as pulumi's unknown sentinels; see
``MarshalProperties`` with ``KeepUnknowns`` and ``KeepSecrets`` in the engine's
``analyzer_plugin.go``) and sends them in ``Analyze`` and ``AnalyzeStack`` requests.
``engine_request`` builds those requests from a plan; ``sdk_resources`` hands them to
pulumi-policy's own analyzer servicer in process and returns what its stack policies see,
through ``policy.pack``'s conversion, so the rules in the tests read exactly what they
read under ``pulumi preview --policy-pack policy``; ``served_pack`` starts the pack the way
the engine does and talks gRPC to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Set
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import StackValidationArgs, StackValidationPolicy
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from infra.core import naming
from infra.program import plan as plan_module
from infra.program.plan import PlannedResource, StackPlan
from policy import pack, rules

POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"

PLAN_UNKNOWN = plan_module.plain(struct_pb2.Value(string_value=UNKNOWN_STRING_VALUE))
"""How a plan shows a value the engine would not know (``plan.plain`` of the sentinel)."""

Unknowns = Callable[[PlannedResource], set[str]]
"""Which inputs of a resource to send as unknown (a preview of a stack not yet created)."""


def engine_value(value: Any) -> Any:
    """A plan's value as the engine marshals it: secrets signed, unknowns as the sentinel."""
    if value == plan_module.SECRET:
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}
    if value == PLAN_UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Mapping):
        return {k: engine_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [engine_value(v) for v in value]
    return value


def engine_struct(inputs: Mapping[str, Any], unknown: Set[str] = frozenset()) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(
        {k: UNKNOWN_STRING_VALUE if k in unknown else engine_value(v) for k, v in inputs.items()}
    )
    return struct


def urn(plan: StackPlan, resource: PlannedResource) -> str:
    return f"urn:pulumi:{plan.stack}::{naming.PROJECT}::{resource.type}::{resource.name}"


def _no_unknowns(resource: PlannedResource) -> set[str]:
    return set()


def engine_resources(
    plan: StackPlan, unknowns: Unknowns | None = None
) -> list[analyzer_pb2.AnalyzerResource]:
    """The plan's resources as ``AnalyzeStack`` sends them (custom resources only)."""
    unknowns = unknowns or _no_unknowns
    urns = {r.name: urn(plan, r) for r in plan.resources}
    return [
        analyzer_pb2.AnalyzerResource(
            type=r.type,
            name=r.name,
            urn=urns[r.name],
            properties=engine_struct(r.inputs, unknowns(r)),
            options=analyzer_pb2.AnalyzerResourceOptions(protect=r.protect),
            dependencies=[urns[d] for d in r.dependencies if d in urns],
        )
        for r in plan.resources
        if r.custom
    ]


def analyze_request(resource: analyzer_pb2.AnalyzerResource) -> analyzer_pb2.AnalyzeRequest:
    """The per-resource ``Analyze`` request for one resource of ``engine_resources``."""
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        properties=resource.properties,
        options=resource.options,
    )


def sdk_resources(plan: StackPlan, unknowns: Unknowns | None = None) -> list[rules.Resource]:
    """The plan's resources as the pack's stack rules see them, retainOnDelete added.

    The requests go through pulumi-policy's analyzer servicer (its ``AnalyzeStack``, the
    code the engine's request meets), and each resource through ``pack.stack_resource``.
    """
    seen: list[rules.Resource] = []

    def capture(args: StackValidationArgs, report: Any) -> None:
        seen.extend(pack.stack_resource(r) for r in args.resources)

    servicer = _PolicyAnalyzerServicer(
        "capture",
        "0.0.1",
        [StackValidationPolicy(name="capture", description="capture", validate=capture)],
        pack.ENFORCEMENT,
    )
    request = analyzer_pb2.AnalyzeStackRequest(resources=engine_resources(plan, unknowns))
    response = servicer.AnalyzeStack(request, None)
    assert not response.diagnostics, response.diagnostics
    retained = {r.name: r.retain_on_delete for r in plan.resources}
    return [
        dataclasses.replace(r, options={**r.options, "retainOnDelete": retained[r.name]})
        for r in seen
    ]


@contextlib.contextmanager
def served_pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started as the engine starts it, and a gRPC client of it.

    The engine runs ``<virtualenv>/bin/python -u -m pulumi.policy <engine> .`` in the
    pack's folder and reads the port the pack serves on from its first line of output.
    """
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            process.kill()
            raise AssertionError(f"the pack did not start: {port!r} {process.communicate()[1]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
