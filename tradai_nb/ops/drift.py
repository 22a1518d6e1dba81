"""Drift: a preview-only refresh per stack (what differs between the state and AWS), summarised per stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tradai_nb.engine import automation
from tradai_nb.errors import CheckFailedError, PulumiCliMissingError, StackNotDeployedError, TradaiError
from tradai_nb.settings import Settings
from tradai_nb.state import backend

SUMMARY_COLUMNS = ["stack", "status", "drifted", "unchanged"]
RESOURCE_COLUMNS = ["stack", *automation.CHANGED_RESOURCE_COLUMNS]
STATUS_CLI_MISSING = "pulumi-cli-missing"
STATUS_NOT_DEPLOYED = "not deployed"
_UNCHANGED_OPS = ("same", "read")

OnOutput = Callable[[str], Any]


@dataclass
class DriftReport:
    """Per stack: drifted or in sync; the drifted resources; and why nothing could be checked, if so."""

    summary: pd.DataFrame
    resources: pd.DataFrame
    message: str

    unchecked: TradaiError | None = None

    @property
    def checked(self) -> bool:
        return STATUS_CLI_MISSING not in set(self.summary["status"])

    def raise_if_failed(self) -> None:
        """The runbook's outcome: drift that could not be checked raises why, drift found raises CheckFailedError;
        either way the run fails (a nightly drift check must not pass having checked nothing)."""
        if self.unchecked is not None:
            raise self.unchecked
        drifted = int(self.summary["drifted"].fillna(0).sum())
        if drifted:
            raise CheckFailedError(self.message)


def detect_drift(settings: Settings, *, stack: str = "", on_output: OnOutput = print) -> DriftReport:
    """Run `refresh --preview-only` on each stack (or one) through the Automation API; nothing is changed.

    Without the Pulumi CLI this is the expected outcome on this machine: the report says so (status
    pulumi-cli-missing, the message naming the fix) instead of failing.
    """
    names = backend.select_stacks(stack)
    summaries, frames = [], []
    for name in names:
        try:
            result = automation.preview_refresh(settings, name, on_output=on_output)
        except PulumiCliMissingError as exc:
            summary = pd.DataFrame([(n, STATUS_CLI_MISSING, None, None) for n in names], columns=SUMMARY_COLUMNS)
            return DriftReport(
                summary.astype({"drifted": "Int64", "unchanged": "Int64"}),
                pd.DataFrame(columns=RESOURCE_COLUMNS),
                str(exc),
                exc,
            )
        except StackNotDeployedError:
            summaries.append((name, STATUS_NOT_DEPLOYED, 0, 0))
            continue
        counts = dict(result.summary.itertuples(index=False))
        unchanged = sum(n for op, n in counts.items() if op in _UNCHANGED_OPS)
        drifted = len(result.changed_resources)
        summaries.append((name, "drifted" if drifted else "in sync", drifted, unchanged))
        frames.append(result.changed_resources.assign(stack=name)[RESOURCE_COLUMNS])
    drifted_total = sum(s[2] for s in summaries)
    message = (
        f"{drifted_total} resource(s) drifted in {settings.environment}; run `refresh` to accept what AWS "
        "holds into the state, or `up` to put AWS back as the program declares"
        if drifted_total
        else f"no drift in {settings.environment}: the state matches AWS"
    )
    resources = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESOURCE_COLUMNS)
    return DriftReport(
        pd.DataFrame(summaries, columns=SUMMARY_COLUMNS).astype({"drifted": "Int64", "unchanged": "Int64"}),
        resources,
        message,
    )
