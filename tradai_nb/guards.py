"""Guard rails for stack actions, checked before any AWS or Pulumi call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai_nb import config
from tradai_nb.errors import ConfigError, GuardError, ParameterError
from tradai_nb.settings import Settings
from tradai_nb.stacks.registry import DestroyPolicy, StackSpec, stacks

ACTIONS = ("plan", "preview", "up", "refresh", "destroy", "outputs", "export", "import", "cancel", "history")
# Actions that change a stack's resources or state; in protected environments they need confirm=<environment>.
CHANGING_ACTIONS = ("up", "refresh", "destroy", "import", "cancel")
DEPLOYMENT_VERSION = 3


@dataclass(frozen=True)
class ApprovedAction:
    """A stack action the guard rails let through; `deployment` is the parsed state file of an import."""

    spec: StackSpec
    action: str
    deployment: dict[str, Any] | None = None


def check_stack_action(settings: Settings, stack: str, action: str, *, confirm: str = "", allow_destroy: bool = False,
                       state_file: str | Path | None = None) -> ApprovedAction:
    """Refuse what must not run; each refusal names the parameter and what to do instead."""
    if action not in ACTIONS:
        raise ParameterError(f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}",
                             name="action")
    try:
        spec = stacks.get(stack)
    except ConfigError:
        raise ParameterError(
            f"parameter 'stack': unknown stack {stack!r}; choose one of {', '.join(stacks.names())}", name="stack"
        ) from None
    if not isinstance(confirm, str):
        raise ParameterError(f"parameter 'confirm': expected the environment name as text, got {confirm!r}",
                             name="confirm")
    if not isinstance(allow_destroy, bool):
        raise ParameterError(f"parameter 'allow_destroy': expected True or False, got {allow_destroy!r}",
                             name="allow_destroy")
    if action == "destroy":
        _check_destroy_policy(spec, settings.environment, allow_destroy)
    protected = settings.environment in config.PROTECTED_ENVIRONMENTS
    if action in CHANGING_ACTIONS and protected and confirm != settings.environment:
        raise GuardError(
            f"action {action!r} changes stack {stack!r} in {settings.environment}: pass confirm={settings.environment!r} "
            f"(--confirm {settings.environment} on the command line) to go ahead (got {confirm!r}); "
            "run action='preview' first to see what would change",
            name="confirm",
        )
    if action != "import":
        if state_file is not None:
            raise ParameterError(f"parameter 'state_file': only action='import' reads a state file (action is {action!r})",
                                 name="state_file")
        return ApprovedAction(spec, action)
    return ApprovedAction(spec, action, load_deployment(state_file, spec, settings.environment))


def load_deployment(state_file: str | Path | None, spec: StackSpec, environment: str) -> dict[str, Any]:
    """The state file of an import, checked to be a Pulumi deployment of this stack and environment."""
    if state_file is None or str(state_file) == "":
        raise ParameterError(
            "parameter 'state_file': action='import' needs the path of a deployment file "
            "(what `pulumi stack export` or action='export' wrote)",
            name="state_file",
        )
    path = Path(state_file).expanduser()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ParameterError(f"parameter 'state_file': {path} does not exist", name="state_file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"parameter 'state_file': cannot read {path} ({exc})", name="state_file") from None
    except json.JSONDecodeError as exc:
        raise ParameterError(f"parameter 'state_file': {path} is not JSON ({exc})", name="state_file") from None
    return check_deployment(data, str(path), spec, environment)


def check_deployment(data: Any, source: str, spec: StackSpec, environment: str, *,
                     parameter: str = "state_file") -> dict[str, Any]:
    """Parsed JSON checked to be a Pulumi deployment of this stack and environment; errors name `parameter`."""
    _check_deployment_shape(data, source, parameter)
    _check_deployment_owner(data["deployment"], source, config.get_stack_project(spec.name), environment, parameter)
    return data


def _check_destroy_policy(spec: StackSpec, environment: str, allow_destroy: bool) -> None:
    if spec.destroy_policy is DestroyPolicy.NEVER:
        raise GuardError(
            f"stack {spec.name!r} is never destroyed: it holds the estate's data ({spec.description}). "
            "Remove single resources with a reviewed change to the stack program instead",
            name="action",
        )
    if spec.destroy_policy is DestroyPolicy.EXPLICIT_ALLOW and not allow_destroy:
        raise GuardError(
            f"destroying stack {spec.name!r} in {environment} needs allow_destroy=True (parameter 'allow_destroy'); "
            f"everything built on it ({', '.join(s.name for s in stacks if spec.name in s.upstream)}) "
            "must be destroyed first",
            name="allow_destroy",
        )


def _check_deployment_shape(data: Any, source: str, parameter: str) -> None:
    expected = '{"version": 3, "deployment": {"manifest": ..., "resources": [...]}}'
    if isinstance(data, dict) and "checkpoint" in data:
        raise ParameterError(
            f"parameter '{parameter}': {source} is a backend checkpoint file, not an exported deployment; "
            f"import what action='export' (pulumi stack export) wrote: {expected}",
            name=parameter,
        )
    versioned = isinstance(data, dict) and data.get("version") == DEPLOYMENT_VERSION
    if not versioned or not isinstance(data.get("deployment"), dict):
        raise ParameterError(f"parameter '{parameter}': {source} is not a Pulumi deployment; expected {expected}",
                             name=parameter)
    deployment = data["deployment"]
    if not isinstance(deployment.get("manifest"), dict):
        raise ParameterError(f"parameter '{parameter}': {source} has no deployment manifest; expected {expected}",
                             name=parameter)
    resources = deployment.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(r, dict) and isinstance(r.get("urn"), str)
                                                  for r in resources):
        raise ParameterError(
            f"parameter '{parameter}': {source}: deployment.resources must be a list of resources, each with a urn",
            name=parameter,
        )


def _check_deployment_owner(deployment: dict[str, Any], source: str, project: str, environment: str,
                            parameter: str) -> None:
    # urn:pulumi:<stack>::<project>::<type>::<name> — importing another stack's state would orphan or delete resources.
    for resource in deployment.get("resources", []):
        urn = resource["urn"]
        parts = urn.split("::")
        well_formed = len(parts) >= 4 and parts[0].startswith("urn:pulumi:")
        if not well_formed or (parts[0].removeprefix("urn:pulumi:"), parts[1]) != (environment, project):
            raise ParameterError(
                f"parameter '{parameter}': {source} holds resources of another stack ({urn}); "
                f"import an export of {project} in {environment}",
                name=parameter,
            )
