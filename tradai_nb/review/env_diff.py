"""Environment diff: the resources two environments' offline plans do not share, and the properties that differ.

Both environments are planned in one process (the stack modules and pulumi_aws load once), then compared:

- Resources are matched by their URN with the environment's name taken out: stack (project), parent types, type
  and logical name. `urn:pulumi:dev::tradai-compute::aws:ecs/cluster:Cluster::cluster` and its prod twin are one
  resource; a logical name holding the environment (`x-dev`, `x-prod`) matches too.
- Inputs are compared leaf by leaf, by property path: `tags.Environment`, `scalingConfig.desiredSize`,
  `containerDefinitions[0].environment[3].value` (a string holding a JSON object or array is compared by its
  content; base64 `userData` by its text). A list of plain values is one property (`capacityProviders`), the same
  when its items are the same in the same order; a list holding objects is compared by index.
  The resource option `protect` is compared as the property `(protect)`. A table shows two lists that share items
  by the items only each has (`["x"] + 9 in both`); the JSON has the whole lists.
- Environment names are not differences: two values are the same when they are equal once every place where one
  has its own environment's name and the other has the other's — each as a whole word, not inside a longer word or
  number — is taken as equal. So `tradai-logs-dev` / `tradai-logs-prod`, ARNs and `Environment=dev` / `prod`
  are the same; `alerts-dev@tradai.io` / `alerts@tradai.io`, `db.t4g.micro` / `db.r6g.large`, `7` / `90` differ.
- Planned IDs are not real ones: an ID the offline plan gave a resource (or the piece of one it put into a
  computed name, such as an RDS endpoint or an ALB DNS name) is shown and compared as `<id of TYPE::NAME>`, the
  resource it stands for. A reference to a different resource is a difference; a different made-up ID is not.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tradai_nb import config
from tradai_nb.engine.plan import Plan, StackPlan, plan
from tradai_nb.errors import ParameterError
from tradai_nb.settings import Settings, load_settings
from tradai_nb.stacks.registry import stacks

ENV_PLACEHOLDER = "{env}"
PROTECT_PROPERTY = "(protect)"
# What a table shows for a property one environment does not set (JSON: null).
NOT_SET = "(not set)"
# How short a piece of a planned ID may be and still stand for its resource (the plan cuts IDs to 6 characters at
# the least, in secret names); shorter hex runs are left as they are.
_MIN_ID_PIECE = 6
_HEX_RUN = re.compile(rf"(?<![0-9A-Za-z])([a-z]+-)?([0-9a-fA-F]{{{_MIN_ID_PIECE},}})(?![0-9a-fA-F])")
# Properties the AWS API takes base64-encoded: compared (and shown) as the text they encode.
_BASE64_PROPERTIES = ("userData",)
_ENVIRONMENT_WORD = re.compile(rf"(?<![0-9A-Za-z])({'|'.join(config.ENVIRONMENTS)})(?![0-9A-Za-z])")


@dataclass
class EnvDiff:
    """The diff of two environments' plans: `summary` (per stack), `only` (resources one environment lacks) and
    `changes` (one row per property of a shared resource that differs, as a table shows it)."""

    environment: str
    against: str
    stacks: tuple[str, ...]
    only: pd.DataFrame
    changes: pd.DataFrame
    shared: dict[str, int]  # per stack: resources both environments plan
    change_values: list[dict[str, Any]] = field(default_factory=list, repr=False)  # `changes` with JSON values

    @property
    def summary(self) -> pd.DataFrame:
        """Per stack: resources only in each environment, shared resources that differ, properties that differ,
        shared resources that are the same."""
        rows = []
        for stack in self.stacks:
            only = self.only[self.only["stack"] == stack]
            changes = self.changes[self.changes["stack"] == stack]
            changed = len(changes[["type", "resource"]].drop_duplicates())
            rows.append(
                [
                    stack,
                    int((only["only in"] == self.environment).sum()),
                    int((only["only in"] == self.against).sum()),
                    changed,
                    len(changes),
                    self.shared[stack] - changed,
                ]
            )
        return pd.DataFrame(
            rows,
            columns=[
                "stack",
                f"only in {self.environment}",
                f"only in {self.against}",
                "changed resources",
                "changed properties",
                "same",
            ],
        )

    def only_in(self, environment: str) -> pd.DataFrame:
        """The resources only `environment` plans: stack, type, resource."""
        if environment not in (self.environment, self.against):
            raise ParameterError(
                f"parameter 'environment': this diff compares {self.environment} with "
                f"{self.against}, not {environment}",
                name="environment",
            )
        rows = self.only[self.only["only in"] == environment]
        return rows[["stack", "type", "resource"]].reset_index(drop=True)

    @property
    def has_differences(self) -> bool:
        return not (self.only.empty and self.changes.empty)

    @property
    def message(self) -> str:
        """One line: what was compared and how much differs."""
        compared = f"{self.environment} against {self.against} ({', '.join(self.stacks)})"
        if not self.has_differences:
            return f"{compared}: the same resources with the same properties, apart from the environment's name"
        summary = self.summary
        return (
            f"{compared}: resources only in {self.environment} {summary[f'only in {self.environment}'].sum()}, "
            f"only in {self.against} {summary[f'only in {self.against}'].sum()}; "
            f"{summary['changed properties'].sum()} properties differ in "
            f"{summary['changed resources'].sum()} of {sum(self.shared.values())} shared resources"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "against": self.against,
            "stacks": list(self.stacks),
            "summary": self.summary.to_dict("records"),
            "only_in": {env: self.only_in(env).to_dict("records") for env in (self.environment, self.against)},
            "changes": self.change_values,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)


class _Absent:
    """A property one environment does not set."""


_ABSENT = _Absent()


def check_parameters(settings: Settings, *, against: str, stack: str = "") -> None:
    """Validate the diff's parameters before anything is planned."""
    if against not in config.ENVIRONMENTS:
        raise ParameterError(
            f"parameter 'against': unknown environment {against!r}; choose one of {', '.join(config.ENVIRONMENTS)}",
            name="against",
        )
    if against == settings.environment:
        others = [e for e in config.ENVIRONMENTS if e != against]
        raise ParameterError(
            f"parameter 'against': {against!r} is the environment being compared; a diff needs two "
            f"different environments: set it to one of {', '.join(others)}",
            name="against",
        )
    if stack and stack not in stacks.names():
        raise ParameterError(
            f"parameter 'stack': {stack!r} is not a stack; choose one of {', '.join(stacks.names())}, or \"\" for all",
            name="stack",
        )


def diff_environments(
    settings: Settings, against: str, stack: str = "", *, on_progress: Callable[[str], None] | None = None
) -> EnvDiff:
    """Plan `settings`' environment and `against` (its params file) offline, one stack (with its upstreams, whose
    IDs it refers to) or all four, and compare them."""
    check_parameters(settings, against=against, stack=stack)
    names = [spec.name for spec in stacks.with_upstreams(stack)] if stack else list(stacks.names())
    plans = [
        plan(each, names, on_progress=_each_line_naming(each.environment, on_progress))
        for each in (settings, load_settings(against))
    ]
    plan_a, plan_b = plans
    return diff_plans(plan_a, plan_b, [stack] if stack else None)


def diff_plans(plan_a: Plan, plan_b: Plan, stack_names: Sequence[str] | None = None) -> EnvDiff:
    """Compare two plans, stack by stack (`stack_names`, default: the stacks both plans hold). Every stack either
    plan holds is used to read the planned IDs that resources of the compared stacks refer to."""
    env_a, env_b = plan_a.environment, plan_b.environment
    held_b = {s.name for s in plan_b.stacks}
    names = list(stack_names) if stack_names else [s.name for s in plan_a.stacks if s.name in held_b]
    ids_a, ids_b = _IdReferences(plan_a), _IdReferences(plan_b)
    only_rows: list[dict[str, Any]] = []
    change_rows: list[dict[str, Any]] = []
    shared: dict[str, int] = {}
    for name in names:
        resources_a = _by_key(plan_a.stack(name), env_a)
        resources_b = _by_key(plan_b.stack(name), env_b)
        for key, row in resources_a.items():
            if key not in resources_b:
                only_rows.append({**_resource(name, row, key), "only in": env_a})
        for key, row in resources_b.items():
            if key not in resources_a:
                only_rows.append({**_resource(name, row, key), "only in": env_b})
        common = [key for key in resources_a if key in resources_b]
        shared[name] = len(common)
        for key in common:
            row_a, row_b = resources_a[key], resources_b[key]
            props_a = _properties(row_a, ids_a)
            props_b = _properties(row_b, ids_b)
            for path in _union(props_a, props_b):
                value_a, value_b = props_a.get(path, _ABSENT), props_b.get(path, _ABSENT)
                if not same_value(value_a, env_a, value_b, env_b):
                    change_rows.append(
                        {**_resource(name, row_a, key), "property": path, env_a: value_a, env_b: value_b}
                    )
    only = pd.DataFrame(only_rows, columns=["stack", "type", "resource", "only in"])
    columns = ["stack", "type", "resource", "property", env_a, env_b]
    changes = pd.DataFrame([_shown(row, env_a, env_b) for row in change_rows], columns=columns)
    values = [{k: (None if v is _ABSENT else v) for k, v in row.items()} for row in change_rows]
    return EnvDiff(env_a, env_b, tuple(names), only, changes, shared, values)


def same_value(value_a: Any, env_a: str, value_b: Any, env_b: str) -> bool:
    """Whether two property values are the same once the environments' names are set aside (see the module's
    docstring): equal, or equal but where `env_a` in one stands against `env_b` in the other, as whole words."""
    if value_a == value_b and type(value_a) is type(value_b):
        return True
    if isinstance(value_a, list) and isinstance(value_b, list):
        return len(value_a) == len(value_b) and all(
            same_value(a, env_a, b, env_b) for a, b in zip(value_a, value_b, strict=True)
        )
    if not (isinstance(value_a, str) and isinstance(value_b, str)):
        return False
    pieces_a, pieces_b = _ENVIRONMENT_WORD.split(value_a), _ENVIRONMENT_WORD.split(value_b)
    if len(pieces_a) != len(pieces_b):
        return False
    # split() alternates text and the environment names it split at: even indexes are text, odd ones names.
    for index, (piece_a, piece_b) in enumerate(zip(pieces_a, pieces_b, strict=True)):
        if piece_a == piece_b:
            continue
        if index % 2 == 0 or (piece_a, piece_b) != (env_a, env_b):
            return False
    return True


def normalised_name(name: str, environment: str) -> str:
    """A logical name or URN with the environment's name (as a whole word) replaced by `{env}`."""
    return re.sub(rf"(?<![0-9A-Za-z]){re.escape(environment)}(?![0-9A-Za-z])", ENV_PLACEHOLDER, name)


def flatten(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(property path, leaf value) for every leaf of a resource's inputs: dict keys joined with `.`, lists holding
    objects indexed with `[i]`, lists of plain values kept whole, JSON text read as what it holds, base64 user
    data read as its text."""
    if path.rsplit(".", 1)[-1] in _BASE64_PROPERTIES and isinstance(value, str):
        value = _text_of_base64(value)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            value = parsed
    if isinstance(value, dict):
        if not value and path:
            yield path, {}
        for key in sorted(value):
            yield from flatten(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, [_whole_number(item) for item in value] if isinstance(value, list) else _whole_number(value)


class _IdReferences:
    """The planned IDs of a plan, and the pieces of them the plan puts into computed names, each standing for
    `<id of TYPE::NAME>`."""

    def __init__(self, whole_plan: Plan) -> None:
        self.whole: dict[str, str] = {}
        pieces: dict[str, set[str]] = {}
        for stack_plan in whole_plan.stacks:
            for row in stack_plan.resources.itertuples(index=False):
                if not row.id:
                    continue
                reference = f"<id of {row.type}::{normalised_name(row.name, whole_plan.environment)}>"
                self.whole[row.id] = reference
                for match in _HEX_RUN.finditer(row.id):
                    digest = match.group(2).lower()
                    for length in range(_MIN_ID_PIECE, len(digest) + 1):
                        pieces.setdefault(digest[:length], set()).add(reference)
                    # The plan names a resource without a name input `<logical name>-<last 7 characters of its ID>`.
                    pieces.setdefault(digest[-7:], set()).add(reference)
        # A piece two resources share stands for neither.
        self.pieces = {piece: next(iter(refs)) for piece, refs in pieces.items() if len(refs) == 1}

    def replace(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.replace(item) for item in value]
        if not isinstance(value, str) or not self.whole:
            return value
        if value in self.whole:
            return self.whole[value]
        return _HEX_RUN.sub(self._piece, value)

    def _piece(self, match: re.Match) -> str:
        prefix, digest = match.group(1) or "", match.group(2)
        if prefix + digest in self.whole:
            return self.whole[prefix + digest]
        reference = self.pieces.get(digest.lower())
        return prefix + reference if reference else match.group(0)


def _each_line_naming(environment: str, on_progress: Callable[[str], None] | None) -> Callable[[str], None] | None:
    if on_progress is None:
        return None
    return lambda text: on_progress(f"{environment}: {text}")


def _by_key(stack_plan: StackPlan, environment: str) -> dict[str, Any]:
    return {normalised_name(row.urn, environment): row for row in stack_plan.resources.itertuples(index=False)}


def _resource(stack: str, row: Any, key: str) -> dict[str, Any]:
    return {"stack": stack, "type": row.type, "resource": key.rsplit("::", 1)[1]}


def _properties(row: Any, ids: _IdReferences) -> dict[str, Any]:
    properties = {path: ids.replace(value) for path, value in flatten(row.inputs or {})}
    properties[PROTECT_PROPERTY] = bool(row.protect)
    return properties


def _union(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return [*a, *(k for k in b if k not in a)]


def _text_of_base64(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors: not base64 text, so kept as it is
        return value


def _whole_number(value: Any) -> Any:
    # Pulumi's wire format carries every number as a float; 7.0 days of retention reads as 7.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _shown(row: dict[str, Any], env_a: str, env_b: str) -> dict[str, Any]:
    """A change as a table shows it: two lists by the items only each has, and how many they share."""
    value_a, value_b = row[env_a], row[env_b]
    if isinstance(value_a, list) and isinstance(value_b, list):
        only_a = [a for a in value_a if not any(same_value(a, env_a, b, env_b) for b in value_b)]
        only_b = [b for b in value_b if not any(same_value(a, env_a, b, env_b) for a in value_a)]
        both = len(value_a) - len(only_a)
        if (only_a or only_b) and both:
            return {
                **row,
                env_a: f"{json.dumps(only_a)} + {both} in both",
                env_b: f"{json.dumps(only_b)} + {both} in both",
            }
    return {**row, env_a: _shown_value(value_a), env_b: _shown_value(value_b)}


def _shown_value(value: Any) -> Any:
    if value is _ABSENT:
        return NOT_SET
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value
