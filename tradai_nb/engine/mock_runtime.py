"""Runs one Pulumi program in-process under Pulumi's mock runtime and returns what it registered."""

from __future__ import annotations

import asyncio
import gc
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import Stack, run_pulumi_func


@dataclass(frozen=True)
class Registration:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    id: str
    outputs: dict[str, Any]
    dependencies: tuple[str, ...]
    retain_on_delete: bool = False


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, answers) -> None:
        self.answers = answers

    def new_resource(self, args):
        return self.answers.new_resource(args)

    def call(self, args):
        return self.answers.call(args)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also recording each registration's parent, protect flag and inputs."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # Children of the root stack carry no parent type in their URN, as in a real deployment.
        if parent.split("::")[2:3] == ["pulumi:pulumi:Stack"]:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=bool(request.custom),
                    protect=bool(getattr(request, "protect", False)),
                    retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                    inputs=_plain(inputs),
                    id=response.id,
                    outputs=_plain(rpc.deserialize_properties(response.object)),
                    dependencies=tuple(sorted(request.dependencies)),  # the SDK gathers them in a set
                )
            )
        return response


def run(program: Callable[[], None], answers, *, project: str, stack: str) -> tuple[list[Registration], dict[str, Any]]:
    """Run `program` as stack `project/stack` under mocks; return its registrations and resolved exports.

    It always runs on the Pulumi worker thread (offloop), whose event loop is its own and never running when this
    starts: never on a caller's loop, which may be a Jupyter kernel's.
    """
    from tradai_nb.engine import offloop

    if not offloop.on_worker():
        return offloop.call(run, program, answers, project=project, stack=stack)
    loop = asyncio.get_event_loop()
    pulumi_settings.ROOT.set(None)
    # Pulumi keeps failed outputs registered until program exit; a new run must not inherit an earlier run's.
    pulumi_settings.SETTINGS.outputs = set()
    monitor = _RecordingMonitor(_Mocks(answers))
    pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = pulumi_settings.get_root_resource()
    tasks_before = asyncio.all_tasks(loop)
    try:
        loop.run_until_complete(run_pulumi_func(program))
        outputs = loop.run_until_complete(_resolve(dict(root.outputs))) if isinstance(root, Stack) else {}
    except BaseException:
        _settle_failed_run(loop, tasks_before)
        raise
    finally:
        # Leave no mock stack behind: code run after a plan must not believe a Pulumi program is running, and
        # the RPC bookkeeping (which outlives set_mocks) must not carry a failed program's errors into the next run.
        pulumi_settings.ROOT.set(None)
        pulumi_settings.SETTINGS.stack = None
        pulumi_settings.SETTINGS.project = None
        pulumi_settings.SETTINGS.rpc_manager.clear()
        pulumi_settings.SETTINGS.outputs.clear()
    return _in_dependency_order(monitor.registrations), _plain(outputs)


def _in_dependency_order(registrations: list[Registration]) -> list[Registration]:
    """Each registration after its parent and dependencies, ties broken by URN. The mock registers from worker
    threads in whatever order they finish; this makes two runs of the same program list the same order."""
    by_urn = {r.urn: r for r in registrations}
    waiting_on = {r.urn: {d for d in (r.parent, *r.dependencies) if d in by_urn} for r in registrations}
    dependents: dict[str, list[str]] = {}
    for urn, needs in waiting_on.items():
        for need in needs:
            dependents.setdefault(need, []).append(urn)
    ready = [urn for urn, needs in waiting_on.items() if not needs]
    heapq.heapify(ready)
    ordered = []
    while ready:
        urn = heapq.heappop(ready)
        ordered.append(by_urn[urn])
        for dependent in dependents.get(urn, ()):
            waiting_on[dependent].discard(urn)
            if not waiting_on[dependent]:
                heapq.heappush(ready, dependent)
    return ordered


def _settle_failed_run(loop: asyncio.AbstractEventLoop, tasks_before: set[asyncio.Task]) -> None:
    # A failed program leaves pending applies on the shared event loop and futures holding its error. Cancel the
    # first and mark the second as seen (the failure itself is what gets reported), so that neither surfaces in a
    # later run, as its error or as "exception was never retrieved" noise.
    leftovers = [task for task in asyncio.all_tasks(loop) - tasks_before if not task.done()]
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    for future in gc.get_objects():
        if (
            isinstance(future, asyncio.Future)
            and future.get_loop() is loop
            and future.done()
            and not future.cancelled()
        ):
            future.exception()


async def _resolve(outputs: dict[str, Any]) -> dict[str, Any]:
    return await pulumi.Output.from_input(outputs).future() or {}


def _plain(value: Any) -> Any:
    """Inputs as plain JSON-able data: unknowns and secrets unwrapped, keys sorted for determinism."""
    if isinstance(value, dict):
        if rpc._special_sig_key in value:  # secret or asset envelopes
            return _plain(value.get("value"))
        return {k: _plain(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
