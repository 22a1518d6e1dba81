"""Stack actions as the notebooks call them: the request checked, then the offline plan or the Automation API (whose
changing actions pass their change gate)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from tradai_nb import progress
from tradai_nb.engine import automation
from tradai_nb.engine.plan import plan
from tradai_nb.errors import OperationError
from tradai_nb.guards import ACTIONS, check_stack_request
from tradai_nb.settings import Settings

__all__ = ["ACTIONS", "require_lambda_images", "run_stack_action"]

# The stack whose Lambda functions need their images in ECR before it deploys, and the actions that deploy.
IMAGE_CONSUMER = "compute"
DEPLOYING_ACTIONS = ("preview", "up")


def run_stack_action(
    settings: Settings,
    stack: str,
    action: str,
    *,
    confirm: str = "",
    allow_destroy: bool = False,
    on_output: Callable[[str], None] = print,
    state_file: str | Path | None = None,
    on_progress: Callable[[str], None] | None = None,
    log_level: int = 0,
    debug: bool = False,
    log_flow: bool = False,
    trace_file: str | None = None,
    checks: Sequence[Callable[[], None]] = (),
) -> automation.AutomationResult:
    """Run `action` on `stack` in the settings' environment. The request is checked first; a changing action's
    guard (confirm, destroy policy, import checks) runs in its change gate before anything is touched — and before
    compute's images are looked up in ECR. log_level, debug, log_flow and trace_file are the Pulumi engine's
    verbose (-v=N), debug, flow-logging and tracing modes (automation.EngineLogging). `checks` join up's gate (after
    its own policy check, before the images are looked up)."""
    check_stack_request(settings, stack, action, confirm=confirm, allow_destroy=allow_destroy, state_file=state_file)
    logging = automation.EngineLogging(log_level, debug, log_flow, trace_file)
    if action == "plan":
        result = plan(settings, [stack], on_progress=progress.reporter(f"plan {stack}", on_progress))
        stack_plan = result.stack(stack)
        outputs = pd.DataFrame(sorted(stack_plan.exports.items()), columns=["key", "value"])
        return automation.AutomationResult(
            result.summary(), outputs, environment=settings.environment, stack=stack, action=action, plan=result
        )
    images: list[pd.DataFrame] = []
    checks = list(checks) if action == "up" else []
    if stack == IMAGE_CONSUMER and action in DEPLOYING_ACTIONS:

        def images_present() -> None:
            images.append(require_lambda_images(settings, action))

        if action == "preview":
            images_present()
        else:
            checks.append(images_present)
    done = automation.run_action(
        settings,
        stack,
        action,
        confirm=confirm,
        allow_destroy=allow_destroy,
        deployment=state_file,
        checks=checks,
        logging=logging,
        on_output=on_output,
    )
    return automation.AutomationResult(
        done.summary,
        done.outputs,
        deployment=done.deployment,
        changed_resources=done.changed_resources,
        environment=settings.environment,
        stack=stack,
        action=action,
        images=images[0] if images else None,
    )


def require_lambda_images(settings: Settings, action: str) -> pd.DataFrame:
    """Before compute deploys: the Lambda images it needs, raising if any is missing."""
    from tradai_nb.aws import session_for
    from tradai_nb.engine.automation import find_pulumi_cli
    from tradai_nb.ops.images import lambda_image_status

    # Without the CLI the action cannot run at all: say so first, before asking AWS anything.
    find_pulumi_cli(action)
    status = lambda_image_status(session_for(settings), settings)
    missing = status[~status["present"]]
    if not missing.empty:
        images = ", ".join(f"{row.repository}:{row.tag}" for row in missing.itertuples())
        raise OperationError(
            f"compute deploys Lambda images that are not in ECR ({settings.environment}): {images}; "
            "push them (the team's `just lambda-bootstrap`) and run again"
        )
    return status
