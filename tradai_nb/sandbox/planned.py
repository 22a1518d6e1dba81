"""The rehearsal estate made from the `local` plan: every planned resource of a kind in REALIZERS (the realizers
package, one module per group) is created in the sandbox with its planned name and inputs, and the values the sandbox
returned (ARNs, DNS names, ids) replace the plan's mock values in the rehearsal state, so its outputs name what the
sandbox holds. The planned kinds no realizer serves
are listed by `tradai-nb sandbox status` (estate.unrealized).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import boto3

from tradai_nb.sandbox.realizers import REALIZERS
from tradai_nb.sandbox.realizers.base import sandbox_of
from tradai_nb.settings import Settings

if TYPE_CHECKING:
    from tradai_nb.engine.plan import Plan

_plan_cache: dict[str, Any] = {}


def local_plan(settings: Settings) -> Plan:
    """The offline plan of settings' environment, once per settings and process (a test session or a kernel seeds
    several times with the same programs)."""
    from tradai_nb.engine.plan import plan

    key = settings.model_dump_json()
    if key not in _plan_cache:
        _plan_cache[key] = plan(settings)
    return _plan_cache[key]


@functools.lru_cache(maxsize=1024)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in values))


def in_sandbox(value: Any, sandbox_values: Mapping[str, str]) -> Any:
    """value (a plan's inputs, outputs or exports) with every planned value the sandbox replaced by the sandbox's,
    also inside longer strings (a dashboard body, an alarm's dimension)."""
    if not sandbox_values:
        return value
    # Longest first, so a value inside a longer one is not replaced in it; a string is matched only against the
    # values it holds (one pattern of all of them costs more to compile, again for each resource, than the seed).
    ordered = sorted(sandbox_values, key=len, reverse=True)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            held = tuple(k for k in ordered if k in item)
            return _pattern(held).sub(lambda m: sandbox_values[m.group(0)], item) if held else item
        if isinstance(item, Mapping):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v) for v in item]
        return item

    return walk(value)


class Realized(NamedTuple):
    """What planned.realize made: the seed rows (kind, name, action), the sandbox's values by the planned values they
    replace, and each realized resource's outputs as its realizer returned them, by urn."""

    rows: list[tuple[str, str, str]]
    values: dict[str, str]
    outputs: dict[str, dict[str, Any]]


def realize(session: boto3.Session, settings: Settings) -> Realized:
    """Create in the sandbox every planned resource of a kind in REALIZERS (idempotent)."""
    sandbox = sandbox_of(session, settings)
    realized = Realized([], {}, {})
    for stack_plan in local_plan(settings).stacks:
        for row in stack_plan.resources.itertuples(index=False):
            if row.type not in REALIZERS:
                continue
            kind, realizer = REALIZERS[row.type]
            action, outputs = realizer(sandbox, in_sandbox(row.inputs, realized.values))
            planned = {**row.outputs, "id": row.id}
            for planned_value, value in _pairs({k: planned.get(k) for k in outputs}, outputs):
                if planned_value != value:
                    realized.values[planned_value] = value
            realized.outputs[row.urn] = outputs
            realized.rows.append((kind, _seed_name(row.inputs, outputs), action))
    return realized


def _pairs(planned: Any, value: Any) -> Iterable[tuple[str, str]]:
    """The (planned, sandbox) string pairs of two outputs of the same shape, also inside lists and mappings (a
    database's master user secrets)."""
    if isinstance(planned, str) and isinstance(value, str):
        yield planned, value
    elif isinstance(planned, Mapping) and isinstance(value, Mapping):
        for key in value.keys() & planned.keys():
            yield from _pairs(planned[key], value[key])
    elif isinstance(planned, list | tuple) and isinstance(value, list | tuple) and len(planned) == len(value):
        for planned_item, item in zip(planned, value, strict=True):
            yield from _pairs(planned_item, item)


def _seed_name(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    """What a seed row names: the planned name, else the bucket a bucket setting is of, else the sandbox's id."""
    return str(inputs.get("name") or inputs.get("bucket") or outputs.get("arn") or outputs["id"])
