"""The offline plan: what a tenant stack would register, without the Pulumi CLI or AWS.

``plan_stack`` runs the real program (``infra.program.stack.define_stack``) under
Pulumi's mock runtime, with the platform stack answered by
``infra.core.platform.EXAMPLE_PLATFORM_OUTPUTS`` and the attributes AWS would compute
(ARNs, endpoints, ACM validation records, the RDS master-user secret) filled in
plausibly. It records every resource as the program registered it: type,
logical name, parent and inputs in their wire form (camelCase keys), secrets
shown as ``"[secret]"``.

Each call runs in its own thread, event loop and context, so it can be called
any number of times in one process, and an exception raised by the program
(a ``RenderError``, a ``PlatformError``) comes out of ``plan_stack`` as itself.
A stack planned again in the same process from the same spec, platform outputs,
templates and program is answered from the plan kept the first time (about 5 ms
instead of 150-200 ms): on the local target, ``deploy`` and a re-run ``create``
plan a stack twice (what it would replace, then what to apply), ``drift`` three times.

Why one module of about 500 lines: the mock runtime, the computed attributes it
fills in and the isolation of each call share private state (the per-call
context and the mock monitor's records); split, that state would have to be
passed between modules that only make sense together.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import hashlib
import json
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pulumi

# protobuf is typed (types-protobuf comes with temporalio); pulumi's own wire types are not.
from google.protobuf import struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as pulumi_runtime_resource
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.stack import run_pulumi_func

from infra.core import naming, rendering
from infra.core.platform import EXAMPLE_PLATFORM_OUTPUTS
from infra.core.spec import TenantSpec
from infra.program.stack import define_stack

SECRET = "[secret]"
"""What a secret value looks like in a plan."""

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_STACK_TYPE = "pulumi:pulumi:Stack"
_STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    parent: str | None
    """Logical name of the parent resource; ``None`` for a top-level resource."""
    inputs: dict[str, Any]
    """Inputs as registered (wire form: camelCase keys), secrets as ``"[secret]"``."""
    custom: bool
    """True for a provider resource, False for a component."""
    protect: bool = False
    """Whether Pulumi refuses to delete it (``ResourceOptions.protect``)."""
    retain_on_delete: bool = False
    """Whether a delete leaves it in AWS (``ResourceOptions.retain_on_delete``)."""
    dependencies: tuple[str, ...] = ()
    """Logical names of the resources it waits for (``depends_on`` and input dependencies)."""
    provider: str | None = None
    """Logical name of the explicit provider it is created with (e.g. one for us-east-1)."""
    ignore_changes: tuple[str, ...] = ()
    """Inputs whose later changes Pulumi ignores (``ResourceOptions.ignore_changes``)."""


@dataclass(frozen=True)
class StackPlan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "parent": r.parent,
                    "protect": r.protect,
                    "retainOnDelete": r.retain_on_delete,
                    "inputs": r.inputs,
                }
                for r in self.resources
            ],
            "outputs": self.outputs,
        }

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> PlannedResource:
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(f"no resource named {name!r} in the plan of {self.stack}")


# ----------------------------------------------------------------- wire values


def plain(value: Any) -> Any:
    """A protobuf ``Struct``/``Value`` (or plain data) as JSON-ready data, secrets redacted.

    Integral numbers come back as ``int`` (protobuf carries every number as a double).
    """
    if isinstance(value, struct_pb2.Struct):
        if _SIG_KEY in value.fields:
            return _special(value.fields[_SIG_KEY].string_value, value)
        return {k: plain(v) for k, v in value.fields.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [plain(v) for v in value.values]
    if isinstance(value, struct_pb2.Value):
        kind = value.WhichOneof("kind")
        if kind == "struct_value":
            return plain(value.struct_value)
        if kind == "list_value":
            return plain(value.list_value)
        if kind == "number_value":
            number = value.number_value
            return int(number) if number.is_integer() else number
        if kind == "string_value":
            return "[unknown]" if value.string_value == _UNKNOWN else value.string_value
        if kind == "bool_value":
            return value.bool_value
        return None
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return SECRET
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _special(signature: str, struct: struct_pb2.Struct) -> Any:
    if signature == _SECRET_SIG:
        return SECRET
    if signature == _RESOURCE_SIG:
        return struct.fields["urn"].string_value
    if signature == _ASSET_SIG:
        return {"asset": {k: plain(v) for k, v in struct.fields.items() if k != _SIG_KEY}}
    if signature == _ARCHIVE_SIG:
        return {"archive": {k: plain(v) for k, v in struct.fields.items() if k != _SIG_KEY}}
    return {k: plain(v) for k, v in struct.fields.items()}


# ---------------------------------------------------------- computed attributes


def _short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def computed_state(type_: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(id, attributes)`` AWS would compute for a resource; inputs are kept as they are."""
    service = type_.split(":")[1].split("/")[0] if type_.count(":") == 2 else "unknown"
    physical = str(inputs.get("name") or inputs.get("identifier") or inputs.get("bucket") or name)
    state: dict[str, Any] = {}
    if type_ == "random:index/randomId:RandomId":
        # Stable for the same keepers, as the provider's is for the life of its state.
        keepers = repr(sorted((inputs.get("keepers") or {}).items()))
        state["hex"] = _short_hash(name, keepers, length=2 * int(inputs.get("byteLength") or 4))
        return state["hex"], state
    if type_ == "aws:s3/bucket:Bucket":
        state["arn"] = f"arn:aws:s3:::{physical}"
        state["bucket"] = physical
        return physical, state
    if type_ == "aws:rds/instance:Instance":
        address = f"{physical}.c{_short_hash(physical, length=12)}.{REGION}.rds.amazonaws.com"
        port = int(inputs.get("port") or 5432)
        state.update(
            arn=f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{physical}",
            address=address,
            endpoint=f"{address}:{port}",
            port=port,
            masterUserSecrets=[
                {
                    "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                    "secretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:"
                    f"rds!db-{_short_hash(physical, length=36)}-{_short_hash(name, length=6)}",
                    "secretStatus": "active",
                }
            ],
        )
        return physical, state
    if type_ in ("aws:rds/parameterGroup:ParameterGroup", "aws:rds/subnetGroup:SubnetGroup"):
        # Pulumi auto-names these: a random suffix lets a replacement be created first.
        physical = f"{name}-{_short_hash(name, length=7)}"
        state["name"] = physical
        kind = "pg" if type_.endswith("ParameterGroup") else "subgrp"
        state["arn"] = f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:{kind}:{physical}"
        return physical, state
    if type_ == "aws:sesv2/emailIdentity:EmailIdentity":
        identity = str(inputs.get("emailIdentity", name))
        state["arn"] = f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{identity}"
        state["dkimSigningAttributes"] = {
            **dict(inputs.get("dkimSigningAttributes") or {}),
            "tokens": [_short_hash(str(i), identity, length=32) for i in range(3)],
            "status": "PENDING",
        }
        return identity, state
    if type_ == "aws:acm/certificate:Certificate":
        domains = [inputs.get("domainName", ""), *inputs.get("subjectAlternativeNames", [])]
        state["arn"] = (
            f"arn:aws:acm:{REGION}:{ACCOUNT_ID}:certificate/{_short_hash(name, length=36)}"
        )
        state["domainValidationOptions"] = [
            {
                "domainName": domain,
                "resourceRecordName": f"_{_short_hash(domain, length=32)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{_short_hash('v', domain, length=32)}."
                "xlfgrmvvlj.acm-validations.aws.",
            }
            for domain in domains
        ]
        state["status"] = "PENDING_VALIDATION"
        return state["arn"], state
    if type_ == "aws:route53/record:Record":
        state["fqdn"] = str(inputs.get("name", "")).rstrip(".")
        return f"{inputs.get('zoneId')}_{state['fqdn']}_{inputs.get('type')}", state
    if type_ == "aws:cognito/userPool:UserPool":
        pool_id = f"{REGION}_{_short_hash(physical, length=9)}"
        state["arn"] = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{pool_id}"
        state["endpoint"] = f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
        return pool_id, state
    if type_ == "aws:secretsmanager/secret:Secret":
        state["arn"] = (
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{physical}-"
            f"{_short_hash(physical, length=6)}"
        )
        return state["arn"], state
    if type_ == "aws:ssm/parameter:Parameter":
        state["arn"] = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{physical}"
        return physical, state
    if type_ == "aws:lb/listenerRule:ListenerRule":
        listener = str(inputs.get("listenerArn", "")).replace(":listener/", ":listener-rule/")
        state["arn"] = f"{listener}/{_short_hash(name, length=16)}"
        return state["arn"], state
    state["arn"] = f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{physical}"
    return f"{physical}-{_short_hash(name, length=8)}", state


# ------------------------------------------------------------------- the monitor


class _NoCalls(pulumi_mocks.Mocks):
    """The program makes no provider calls; any would be a surprise worth failing on."""

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[Any, Any], None]:
        raise NotImplementedError(f"the offline plan does not mock provider call {args.token}")

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[Any, Any]]:
        raise NotImplementedError("PlanMonitor answers registrations itself")


class PlanMonitor(pulumi_mocks.MockMonitor):
    """Records registrations and answers them straight from the wire form.

    The stock monitor deserializes every request into Python values and
    serializes the mock's answer back through the SDK's async serializer; this
    one copies the request's protobuf object and adds the computed attributes,
    which is all the SDK needs to resolve the resource's outputs.
    """

    def __init__(self, platform_outputs: Mapping[str, Any]) -> None:
        super().__init__(_NoCalls())
        self.platform_outputs = dict(platform_outputs)
        self.planned: list[PlannedResource] = []
        self._lock = threading.Lock()

    @staticmethod
    def _parent_name(parent_urn: str) -> str | None:
        if not parent_urn:
            return None
        qualified_type = parent_urn.split("::")[2]
        if qualified_type.split("$")[-1] == _STACK_TYPE:
            return None
        return parent_urn.split("::")[-1]

    def _record(self, request: Any, custom: bool, inputs: dict[str, Any]) -> None:
        registered = hasattr(request, "retainOnDelete")
        dependencies: set[str] = set()
        if registered:
            dependencies.update(request.dependencies)
            for deps in request.propertyDependencies.values():
                dependencies.update(deps.urns)
        with self._lock:
            self.planned.append(
                PlannedResource(
                    type=request.type,
                    name=request.name,
                    parent=self._parent_name(request.parent),
                    inputs=inputs,
                    custom=custom,
                    protect=bool(getattr(request, "protect", False)),
                    retain_on_delete=bool(registered and request.retainOnDelete),
                    dependencies=tuple(sorted(urn.split("::")[-1] for urn in dependencies)),
                    # a provider reference is "<urn>::<id>"; the urn ends in the name
                    provider=str(request.provider).split("::")[-2]
                    if registered and request.provider
                    else None,
                    ignore_changes=tuple(request.ignoreChanges) if registered else (),
                )
            )

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == _STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = plain(request.object)
        self._record(request, bool(request.custom), inputs)
        if not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        id_, state = computed_state(request.type, request.name, inputs)
        obj = struct_pb2.Struct()
        obj.CopyFrom(request.object)
        obj.update(state)
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, {})
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

    def ReadResource(self, request: Any) -> resource_pb2.ReadResourceResponse:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type != _STACK_REFERENCE_TYPE:
            raise NotImplementedError(f"the offline plan cannot read {request.type}")
        self._record(request, True, {"name": request.id})
        obj = struct_pb2.Struct()
        obj.update({"name": request.id, "outputs": self.platform_outputs, "secretOutputNames": []})
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, request.id, {})
        return resource_pb2.ReadResourceResponse(urn=urn, properties=obj)


# ----------------------------------------------------------------------- the plan


async def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    resolved = await output.future()
    if await output.is_secret():
        return SECRET
    return plain(resolved)


Program = Callable[[], Mapping[str, Any]]
"""A Pulumi program that returns its stack outputs, such as ``lambda: define_stack(spec)``."""


async def _run(program: Program, stack: str, monitor: PlanMonitor) -> dict[str, Any]:
    # Everything below sets context variables of this thread only: the caller's
    # Pulumi settings, root resource and config are left as they were.
    pulumi_settings.ROOT.set(None)
    set_all_config({}, [])
    pulumi_mocks.set_mocks(
        monitor.mocks, project=naming.PROJECT, stack=stack, preview=False, monitor=monitor
    )
    pulumi_settings.SETTINGS.outputs = set()
    pulumi_settings.SETTINGS.lock = threading.Lock()

    outputs: dict[str, Any] = {}

    async def run() -> None:
        for key, value in program().items():
            outputs[key] = await _resolve(value)

    await run_pulumi_func(run)
    return outputs


def plan_stack(spec: TenantSpec, *, platform_outputs: Mapping[str, Any] | None = None) -> StackPlan:
    """Evaluate *spec*'s stack under the mock runtime and return what it registers.

    *platform_outputs* replaces ``EXAMPLE_PLATFORM_OUTPUTS`` as the platform
    stack's outputs (for a test of a mismatched or incomplete platform).

    The same stack planned again in the same process, from the same program and
    templates, is the plan kept from the first time (a copy of its own): see
    ``_memo_key``. A plan that fails is not kept.
    """
    outputs = EXAMPLE_PLATFORM_OUTPUTS if platform_outputs is None else platform_outputs
    key = _memo_key(spec, outputs)
    with _MEMO_LOCK:
        kept = _MEMO.get(key)
    if kept is not None and _unchanged(kept[0]):
        with _MEMO_LOCK:
            if key in _MEMO:
                _MEMO.move_to_end(key)
        plan: StackPlan = pickle.loads(kept[1])
        return plan
    plan = plan_program(lambda: define_stack(spec), spec.stack_name, platform_outputs=outputs)
    pickled = pickle.dumps(plan)
    kept = (_program_as_loaded(), pickled)  # after the run: what it imported too
    with _MEMO_LOCK:
        _MEMO[key] = kept
        while len(_MEMO) > MEMO_PLANS:
            _MEMO.popitem(last=False)
    return plan


MEMO_PLANS = 64
"""How many plans a process keeps (about 110 KB each), the least recently used dropped."""
_MEMO: OrderedDict[str, tuple[dict[tuple[str, ...], int], bytes]] = OrderedDict()
"""Plans by ``_memo_key``: the program as loaded when each was made, and the plan pickled."""
_MEMO_LOCK = threading.Lock()
_PROGRAM_PACKAGES = ("infra.program", "infra.core")
"""The program and the pure logic it runs: a plan depends on nothing else of the project."""


def _memo_key(spec: TenantSpec, outputs: Mapping[str, Any]) -> str:
    """What a plan is made from besides the program: the spec, the platform's outputs
    and every template file's bytes. A plan reads nothing else (no environment, no
    clock, no randomness; its config is empty)."""
    digest = hashlib.sha256()
    digest.update(spec.model_dump_json().encode() + b"\n")
    digest.update(json.dumps(outputs, sort_keys=True, default=str).encode() + b"\n")
    root = rendering.TEMPLATES_DIR
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _program_as_loaded() -> dict[tuple[str, ...], int]:
    """The identity of every attribute of each loaded module of ``_PROGRAM_PACKAGES`` and
    of every class defined in it, by ``(module, attribute[, member])``."""
    found: dict[tuple[str, ...], int] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(_PROGRAM_PACKAGES):
            continue
        for attribute, value in list(vars(module).items()):
            found[name, attribute] = id(value)
            if isinstance(value, type) and value.__module__ == name:
                for member, inner in list(vars(value).items()):
                    found[name, attribute, member] = id(inner)
    return found


def _unchanged(loaded: Mapping[tuple[str, ...], int]) -> bool:
    """Whether each attribute in *loaded* (``_program_as_loaded`` when a plan was made) is
    still the same object: a kept plan answers only then.

    One replaced since (a reload, a patch in a test) means another program, which is
    planned afresh; putting the original back finds the plan kept for it again. What
    was added since (a module loaded later, the ``__slotnames__`` pickling adds) played
    no part in the plan.
    """
    for (module, *names), identity in loaded.items():
        value: Any = sys.modules.get(module)
        for name in names:
            value = getattr(value, "__dict__", {}).get(name, _MISSING)
        if id(value) != identity:
            return False
    return True


_MISSING = object()


def plan_program(
    program: Program, stack: str, *, platform_outputs: Mapping[str, Any] | None = None
) -> StackPlan:
    """Evaluate any *program* as the stack *stack* under the mock runtime."""
    monitor = PlanMonitor(
        EXAMPLE_PLATFORM_OUTPUTS if platform_outputs is None else platform_outputs
    )
    outcome: dict[str, Any] = {}

    def work() -> None:
        _IN_PLAN.set(True)
        try:
            outcome["outputs"] = _run_in_new_loop(program, stack, monitor)
        except BaseException as exc:  # re-raised as itself in the caller's thread
            outcome["error"] = exc

    # A thread of its own gives the run a fresh context: the SDK keeps its
    # settings, root resource and config in context variables, so nothing leaks
    # into the caller or the next plan.
    _skip_stack_traces_in_plans()
    collecting = gc.isenabled()
    # The run allocates a few hundred thousand short-lived objects; letting the
    # collector run meanwhile means full passes over every long-lived object of
    # the (large) provider SDK. One young-generation pass afterwards frees the same.
    gc.disable()
    try:
        thread = threading.Thread(target=work, name=f"plan-{stack}")
        thread.start()
        thread.join()
    finally:
        if collecting:
            gc.enable()
            gc.collect(0)
    if "error" in outcome:
        raise root_cause(outcome["error"])
    resources = sorted(monitor.planned, key=lambda r: r.name)
    return StackPlan(stack=stack, resources=resources, outputs=outcome["outputs"])


_IN_PLAN: ContextVar[bool] = ContextVar("tenantctl_offline_plan", default=False)
_NO_STACK_TRACE = source_pb2.StackTrace()
_PATCH_LOCK = threading.Lock()


def _skip_stack_traces_in_plans() -> None:
    """Let the SDK skip its per-resource stack walk inside offline plans only.

    For every resource it registers, the SDK extracts the whole Python call
    stack and turns each frame into a file URI, so the engine can show where
    the resource was declared: about a sixth of a plan's time, for data the
    mock monitor throws away. The SDK has no switch for it, so its module
    function is wrapped once; the wrapper consults a context variable set only
    in plan threads, so real programs elsewhere in the process keep their
    source positions. Should the SDK rename the function, plans just run slower.
    """
    with _PATCH_LOCK:
        original = getattr(pulumi_runtime_resource, "_get_stack_trace", None)
        if original is None or getattr(original, "plan_aware", False):
            return

        def stack_trace() -> Any:
            return _NO_STACK_TRACE if _IN_PLAN.get() else original()

        stack_trace.plan_aware = True  # type: ignore[attr-defined]
        pulumi_runtime_resource._get_stack_trace = stack_trace


def root_cause(exc: BaseException) -> BaseException:
    """The program's own exception inside the SDK's "While processing ..." wrappers.

    The SDK re-raises a failed input as ``ValueError("While processing input: ...")
    from <the original>``, once per resource and input it passed through.
    """
    seen: set[int] = set()
    while (
        isinstance(exc, ValueError)
        and str(exc).startswith("While processing ")
        and id(exc) not in seen
    ):
        seen.add(id(exc))
        # A failed stack output's wrapper is raised "from" itself (its own __cause__);
        # the program's exception is then the one it was raised while handling.
        cause = exc.__cause__ if exc.__cause__ is not exc else exc.__context__
        if cause is None:
            break
        exc = cause
    return exc


def _quiet_abandoned_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # When the program fails, every resource downstream of the failure holds the
    # same exception in a future nobody awaits; plan_program raises it once instead.
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _run_in_new_loop(program: Program, stack: str, monitor: PlanMonitor) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor(max_workers=1))
    loop.set_exception_handler(_quiet_abandoned_failures)
    try:
        return loop.run_until_complete(_run(program, stack, monitor))
    finally:
        _close(loop)


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs the SDK's "blocking" monitor calls on the spot.

    The SDK sends every registration to a thread pool because a real engine
    answers over gRPC; ``PlanMonitor`` answers in microseconds, and threads
    would only add hand-offs and contention for the interpreter lock.
    """

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine, as a thread would
            future.set_exception(exc)
        return future


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failed program left pending, so nothing leaks into the next plan."""
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    finally:
        loop.close()
