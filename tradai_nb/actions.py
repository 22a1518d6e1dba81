"""Stack actions as the notebooks call them: guard first, then the offline plan or the Automation API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from tradai_nb.engine.plan import Plan, plan
from tradai_nb.errors import ParameterError
from tradai_nb.settings import Settings
from tradai_nb.stacks import stacks

ACTIONS = ("plan", "preview", "up", "refresh", "destroy", "outputs", "export", "import", "cancel", "history")


@dataclass
class ActionResult:
    """What a stack action did: a summary table, outputs, and the plan when the action was `plan`."""

    environment: str
    stack: str
    action: str
    summary: pd.DataFrame
    outputs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["key", "value"]))
    plan: Plan | None = None


def run_stack_action(settings: Settings, stack: str, action: str, *, confirm: str = "", allow_destroy: bool = False,
                     on_output: Callable[[str], None] = print, state_file: str | None = None) -> ActionResult:
    """Run `action` on `stack` in the settings' environment. Guards run before anything is touched."""
    stacks.get(stack)
    if action not in ACTIONS:
        raise ParameterError(f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}", name="action")
    if action == "plan":
        result = plan(settings, [stack])
        stack_plan = result.stack(stack)
        outputs = pd.DataFrame(sorted(stack_plan.exports.items()), columns=["key", "value"])
        return ActionResult(settings.environment, stack, action, result.summary(), outputs, result)
    raise NotImplementedError(action)
