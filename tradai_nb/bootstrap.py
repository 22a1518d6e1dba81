"""Bootstrap: one action over all four stacks in dependency order, stopping at the first failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from tradai_nb import progress
from tradai_nb.actions import run_stack_action
from tradai_nb.engine.automation import AutomationResult
from tradai_nb.engine.digest import input_digests
from tradai_nb.engine.plan import Plan
from tradai_nb.errors import ParameterError, TradaiError
from tradai_nb.review.policy import require_policy
from tradai_nb.settings import Settings
from tradai_nb.stacks import stacks

# What a bootstrap does: plan (offline), preview, or deploy everything. Destroying is per stack, never bootstrapped.
BOOTSTRAP_ACTIONS = ("plan", "preview", "up")
STEP_COLUMNS = ["stack", "action", "status", "resources", "outputs", "detail"]


@dataclass
class BootstrapResult:
    """What a bootstrap did: one step per stack (done, failed, or not run), each done stack's result."""

    environment: str
    action: str
    steps: pd.DataFrame
    results: dict[str, AutomationResult] = field(default_factory=dict)
    images: pd.DataFrame | None = None
    error: TradaiError | None = None

    def resources_per_stack(self) -> pd.DataFrame:
        """Resources each stack's summary counted (0 for stacks not run)."""
        counts = self.steps[["stack", "resources"]].copy()
        counts["resources"] = pd.to_numeric(counts["resources"]).fillna(0).astype(int)
        return counts

    def input_digests(self) -> pd.DataFrame:
        """For action `plan`: every planned resource of the stacks that ran, with a digest of its inputs; empty for
        the other actions."""
        planned = [stack for done in self.results.values() if done.plan is not None for stack in done.plan.stacks]
        return input_digests(Plan(self.environment, planned) if planned else None)

    def raise_if_failed(self) -> None:
        """Raise the error that stopped the bootstrap, so a headless run records it as failed (or refused)."""
        if self.error is not None:
            raise self.error


def check_bootstrap_action(action: str) -> None:
    """Refuse actions a bootstrap does not do, naming the ones it does."""
    if action not in BOOTSTRAP_ACTIONS:
        raise ParameterError(
            f"parameter 'action': bootstrap does {', '.join(BOOTSTRAP_ACTIONS)}, not {action!r}; "
            "run other actions from the stack's own notebook",
            name="action",
        )


def bootstrap(
    settings: Settings,
    action: str = "plan",
    *,
    confirm: str = "",
    log_level: int = 0,
    on_output: Callable[[str], None] = print,
    on_progress: Callable[[str], None] | None = None,
) -> BootstrapResult:
    """Run `action` on persistent, foundation, compute, edge in that order; stop at the first failure."""
    check_bootstrap_action(action)
    on_progress = progress.reporter(f"bootstrap {action}", on_progress)
    result = BootstrapResult(settings.environment, action, pd.DataFrame(columns=STEP_COLUMNS))
    steps: list[dict] = []
    failed_stack = None
    # Before the first stack deploys, the whole estate passes the policy check: a violation in edge must not leave
    # persistent and foundation deployed and edge refused. The refusal is the first stack's gate's, so it is recorded.
    estate_checks = [require_policy(settings, stacks.names())] if action == "up" else []
    for spec in stacks:
        if failed_stack is not None:
            steps.append(_step(spec.name, action, "not run", detail=f"stopped: {failed_stack} failed"))
            continue
        on_progress(f"{spec.name}: {action}")
        try:
            done = run_stack_action(
                settings,
                spec.name,
                action,
                confirm=confirm,
                on_output=on_output,
                on_progress=on_progress,
                log_level=log_level,
                checks=estate_checks if not steps else (),
            )
        except TradaiError as exc:
            result.error, failed_stack = exc, spec.name
            steps.append(_step(spec.name, action, "failed", detail=f"{type(exc).__name__}: {exc}"))
            continue
        result.results[spec.name] = done
        if done.images is not None:
            result.images = done.images
        steps.append(_step(spec.name, action, "done", resources=_resource_count(done), outputs=len(done.outputs)))
    result.steps = pd.DataFrame(steps, columns=STEP_COLUMNS)
    on_progress(f"{action} {'stopped at ' + failed_stack if failed_stack else 'done'}")
    return result


def _step(
    stack: str, action: str, status: str, *, resources: int | None = None, outputs: int | None = None, detail: str = ""
) -> dict:
    return {
        "stack": stack,
        "action": action,
        "status": status,
        "resources": resources,
        "outputs": outputs,
        "detail": detail,
    }


def _resource_count(result: AutomationResult) -> int | None:
    # Summaries that count (the plan's resources by type) sum up; others have no single resource count.
    if "count" in result.summary.columns:
        return int(result.summary["count"].sum())
    return None
