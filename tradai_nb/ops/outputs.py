"""Stack outputs: every stack's exports of an environment as one table, secret values masked."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pandas as pd

from tradai_nb import pulumi_state
from tradai_nb.errors import ParameterError
from tradai_nb.settings import Settings

OUTPUT_COLUMNS = ["stack", "key", "value", "secret"]
SECRET_MASK = "[secret]"


def stack_outputs(session: boto3.Session, settings: Settings, *, key: str = "", stack: str = "") -> pd.DataFrame:
    """The outputs of the environment's deployed stacks (or one stack), one row per key; `key` keeps one output.

    Read from the backend's checkpoints (the root stack resource's outputs), or through the Automation API where it
    reads this environment's state (pulumi_state.reads_through_automation_api). Values are shown as compact JSON.
    """
    names = pulumi_state.select_stacks(stack)
    rows = []
    if pulumi_state.reads_through_automation_api(settings):
        from tradai_nb.engine import automation

        for name in names:
            table = automation.outputs(settings, name).outputs
            rows += [(name, k, v if secret else _shown(v), bool(secret)) for k, v, secret in table.itertuples(index=False)]
    else:
        state = pulumi_state.state_store_for(settings, session)
        for ref in pulumi_state.environment_stacks(state, settings.environment):
            if ref.stack_name in names:
                for output_key, value in sorted(_root_outputs(state.read_deployment(ref)).items()):
                    secret = pulumi_state.is_secret(value)
                    rows.append((ref.stack_name, output_key, SECRET_MASK if secret else _shown(value), secret))
    table = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    if key == "":
        return table
    if key not in set(table["key"]):
        raise ParameterError(
            f"parameter 'key': no output {key!r} in {stack or 'any stack'} of {settings.environment}; outputs there: "
            f"{', '.join(sorted(set(table['key']))) or 'none (nothing deployed)'}",
            name="key",
        )
    return table[table["key"] == key].reset_index(drop=True)


def _root_outputs(exported: dict[str, Any]) -> dict[str, Any]:
    for resource in exported["deployment"].get("resources") or []:
        if resource.get("type") == pulumi_state.STACK_TYPE:
            return dict(resource.get("outputs") or {})
    return {}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
