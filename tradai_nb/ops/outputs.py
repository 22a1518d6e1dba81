"""Stack outputs: every stack's exports of an environment as one table, secret values masked."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pandas as pd

from tradai_nb.engine import automation
from tradai_nb.errors import ParameterError, PassphraseMissingError
from tradai_nb.settings import Settings
from tradai_nb.state import backend, sealing

OUTPUT_COLUMNS = ["stack", "key", "value", "secret"]
SECRET_MASK = "[secret]"


def stack_outputs(session: boto3.Session, settings: Settings, *, key: str = "", stack: str = "") -> pd.DataFrame:
    """The outputs of the environment's deployed stacks (or one stack), one row per key; `key` keeps one output.

    Read from the backend's checkpoints (the root stack resource's outputs), or through the Automation API where it
    reads this environment's state (automation.reads_through_automation_api). Values are shown as compact JSON.
    """
    names = backend.select_stacks(stack)
    rows = []
    if automation.reads_through_automation_api(settings):
        for name in names:
            table = automation.outputs(settings, name).outputs
            rows += [
                (name, k, v if secret else _shown(v), bool(secret)) for k, v, secret in table.itertuples(index=False)
            ]
    else:
        state = backend.state_store_for(settings, session)
        for ref in backend.environment_stacks(state, settings.environment):
            if ref.stack_name in names:
                for output_key, value in sorted(_root_outputs(state.read_deployment(ref)).items()):
                    secret = sealing.is_secret(value)
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


def output_values(
    session: boto3.Session, settings: Settings, stack: str, *, show_secrets: bool = False
) -> dict[str, Any]:
    """One stack's outputs as plain values (what `pulumi stack output --json` prints): secrets masked, or with
    show_secrets decrypted with the shell's passphrase (PULUMI_CONFIG_PASSPHRASE or its file)."""
    backend.select_stacks(stack)
    if automation.reads_through_automation_api(settings):
        table = automation.outputs(settings, stack, show_secrets=show_secrets).outputs
        return {key: value for key, value, _ in table.itertuples(index=False)}
    deployment = backend.deployed_deployment(
        settings, session, stack, action="output", nothing="nothing is deployed, so it has no outputs"
    )
    values = _root_outputs(deployment)
    if not show_secrets:
        return {key: SECRET_MASK if sealing.is_secret(value) else value for key, value in sorted(values.items())}
    passphrase = sealing.shell_passphrase()
    if passphrase is None:
        raise PassphraseMissingError(
            "--show-secrets decrypts the stack's secret outputs with its passphrase: export "
            "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) in this shell"
        )
    provider = (deployment["deployment"].get("secrets_providers") or {}).get("state") or {}

    def revealed(value: Any) -> Any:
        if isinstance(value, dict) and value.get(sealing.SECRET_SIG_KEY) == sealing.SECRET_SIG:
            return sealing.decrypt_secret(value, provider, passphrase)
        if isinstance(value, dict):
            return {k: revealed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [revealed(v) for v in value]
        return value

    return {key: revealed(value) for key, value in sorted(values.items())}


def _root_outputs(exported: dict[str, Any]) -> dict[str, Any]:
    for resource in exported["deployment"].get("resources") or []:
        if resource.get("type") == backend.STACK_TYPE:
            return dict(resource.get("outputs") or {})
    return {}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
