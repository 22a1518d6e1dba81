"""Stack actions as the notebooks call them: guard first, then the offline plan or the Automation API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tradai_nb.engine import automation
from tradai_nb.engine.plan import Plan, plan
from tradai_nb.guards import ACTIONS, check_stack_action
from tradai_nb.settings import Settings

__all__ = ["ACTIONS", "ActionResult", "run_stack_action"]


@dataclass
class ActionResult:
    """What a stack action did: a summary table, outputs, the plan (action `plan`), the deployment (action `export`)."""

    environment: str
    stack: str
    action: str
    summary: pd.DataFrame
    outputs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["key", "value"]))
    plan: Plan | None = None
    deployment: dict[str, Any] | None = None


def run_stack_action(settings: Settings, stack: str, action: str, *, confirm: str = "", allow_destroy: bool = False,
                     on_output: Callable[[str], None] = print, state_file: str | Path | None = None) -> ActionResult:
    """Run `action` on `stack` in the settings' environment. Guards run before anything is touched."""
    approved = check_stack_action(settings, stack, action, confirm=confirm, allow_destroy=allow_destroy,
                                  state_file=state_file)
    if action == "plan":
        result = plan(settings, [stack])
        stack_plan = result.stack(stack)
        outputs = pd.DataFrame(sorted(stack_plan.exports.items()), columns=["key", "value"])
        return ActionResult(settings.environment, stack, action, result.summary(), outputs, result)
    done = automation.run_action(settings, stack, action, on_output=on_output, deployment=approved.deployment)
    return ActionResult(settings.environment, stack, action, done.summary, done.outputs, deployment=done.deployment)
