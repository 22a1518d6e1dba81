"""Guard rails for stack actions: the request, the destroy policy, and what a stack import may take."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai_nb import config, files
from tradai_nb.errors import ConfigError, GuardError, ParameterError, UnreadableFileError
from tradai_nb.settings import Settings
from tradai_nb.stacks.registry import DestroyPolicy, StackSpec, stacks

ACTIONS = ("plan", "preview", "up", "refresh", "destroy", "outputs", "export", "import", "cancel", "history")
# Actions that change a stack's resources or state; in protected environments they need confirm=<environment>.
CHANGING_ACTIONS = ("up", "refresh", "destroy", "import", "cancel")
DEPLOYMENT_VERSION = 3
# A deployment of a few hundred resources is a few MB; 256 MiB is far beyond any real one, and bounds the memory a
# wrong path (a disk image, say) could take.
MAX_STATE_FILE_BYTES = 256 * 1024 * 1024
STACK_RESOURCE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class ApprovedAction:
    """A stack action the guard rails let through; `deployment` is the parsed state file of an import."""

    spec: StackSpec
    action: str
    deployment: dict[str, Any] | None = None


def check_stack_request(
    settings: Settings,
    stack: str,
    action: str,
    *,
    confirm: object = "",
    allow_destroy: object = False,
    state_file: str | Path | None = None,
) -> StackSpec:
    """Refuse an unknown action or stack and parameters of the wrong type; nothing about permission yet."""
    if action not in ACTIONS:
        raise ParameterError(
            f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}", name="action"
        )
    try:
        spec = stacks.get(stack)
    except ConfigError:
        raise ParameterError(
            f"parameter 'stack': unknown stack {stack!r}; choose one of {', '.join(stacks.names())}", name="stack"
        ) from None
    from tradai_nb.records import gate

    gate.check_confirm_text(confirm)
    if not isinstance(allow_destroy, bool):
        raise ParameterError(
            f"parameter 'allow_destroy': expected True or False, got {allow_destroy!r}", name="allow_destroy"
        )
    if action != "import" and state_file is not None:
        raise ParameterError(
            f"parameter 'state_file': only action='import' reads a state file (action is {action!r})", name="state_file"
        )
    return spec


def check_stack_action(
    settings: Settings,
    stack: str,
    action: str,
    *,
    confirm: str = "",
    allow_destroy: bool = False,
    state_file: str | Path | None = None,
) -> ApprovedAction:
    """Everything the change gate of the action will check, checked early (for a refusal before a kernel starts):
    the request, the destroy policy, the confirm rule, and an import's deployment."""
    from tradai_nb.records import gate

    spec = check_stack_request(
        settings, stack, action, confirm=confirm, allow_destroy=allow_destroy, state_file=state_file
    )
    if action == "destroy":
        check_destroy_policy(spec, settings.environment, allow_destroy)
    if action in CHANGING_ACTIONS:
        # Called before a run's kernel starts: the run's own record keeps the refusal.
        gate.precheck(settings, f"stack.{action}", target=stack, confirm=confirm, record=False)
    if action != "import":
        return ApprovedAction(spec, action)
    deployment = load_deployment(state_file, spec, settings.environment)
    check_import(deployment, "state_file", spec, settings)
    return ApprovedAction(spec, action, deployment)


def check_destroy_policy(spec: StackSpec, environment: str, allow_destroy: object) -> None:
    """Persistent is never destroyed; foundation only with allow_destroy=True; the others freely."""
    if spec.destroy_policy is DestroyPolicy.NEVER:
        raise GuardError(
            f"stack {spec.name!r} is never destroyed: it holds the estate's data ({spec.description}). "
            "Remove single resources with a reviewed change to the stack program instead",
            name="action",
        )
    if spec.destroy_policy is DestroyPolicy.EXPLICIT_ALLOW and allow_destroy is not True:
        raise GuardError(
            f"destroying stack {spec.name!r} in {environment} needs allow_destroy=True (parameter 'allow_destroy'); "
            f"everything built on it ({', '.join(s.name for s in stacks if spec.name in s.upstream)}) "
            "must be destroyed first",
            name="allow_destroy",
        )


def check_import(
    data: Any, source: str, spec: StackSpec, settings: Settings, *, parameter: str = "state_file"
) -> dict[str, Any]:
    """What a stack import may take: a Pulumi deployment of this stack and environment (check_deployment) that holds
    resources — an empty one would wipe the stack's state — under a secrets provider this environment can open."""
    check_deployment(data, source, spec, settings.environment, parameter=parameter)
    deployment = data["deployment"]
    held = [r for r in deployment.get("resources", []) if r.get("type") != STACK_RESOURCE]
    if not held:
        raise GuardError(
            f"{source} holds no resources of stack {config.get_stack_project(spec.name)}: importing it would empty the "
            f"stack's state in {settings.environment} and orphan every resource it manages. Import a backup that "
            "holds the stack's resources (the state backup runbook lists them with their counts); to remove the "
            "resources themselves, destroy the stack",
            name=parameter,
        )
    _check_secrets_provider(deployment, source, settings, parameter)
    return data


def _check_secrets_provider(deployment: dict[str, Any], source: str, settings: Settings, parameter: str) -> None:
    from tradai_nb.state.sealing import passphrase_opens, shell_passphrase

    provider = deployment.get("secrets_providers")
    if not isinstance(provider, dict) or provider.get("type") != settings.secrets_provider:
        found = provider.get("type") if isinstance(provider, dict) else "none"
        raise GuardError(
            f"{source} was written under the secrets provider {found!r}, but {settings.environment}'s stacks use "
            f"{settings.secrets_provider!r} (secrets_provider in params/{settings.environment}.yaml): its secrets "
            "could not be read after the import. Export the state with this environment's passphrase provider",
            name=parameter,
        )
    state = provider.get("state")
    passphrase = shell_passphrase()
    if passphrase is not None and isinstance(state, dict) and not passphrase_opens(state, passphrase):
        raise GuardError(
            f"{source} was written under another passphrase than the one set in this shell "
            "(PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE): after the import no secret of the stack "
            "could be decrypted. Set the passphrase the export was made with, or export again under this one",
            name=parameter,
        )


def load_deployment(state_file: str | Path | None, spec: StackSpec, environment: str) -> dict[str, Any]:
    """The state file of an import, checked to be a Pulumi deployment of this stack and environment."""
    if state_file is None or str(state_file) == "":
        raise ParameterError(
            "parameter 'state_file': action='import' needs the path of a deployment file "
            "(what `pulumi stack export` or action='export' wrote)",
            name="state_file",
        )

    def refuse(problem: str) -> ParameterError:
        return ParameterError(
            f"parameter 'state_file': {path} {problem}; expected a JSON file of at most "
            f"{MAX_STATE_FILE_BYTES // (1024 * 1024)} MiB, as `pulumi stack export` or "
            "action='export' wrote it",
            name="state_file",
        )

    if not isinstance(state_file, (str, os.PathLike)):
        raise ParameterError(
            f"parameter 'state_file': expected the path of a deployment file as text, got {state_file!r}",
            name="state_file",
        )
    path = Path(state_file).expanduser()
    try:
        text = files.read_text(path, MAX_STATE_FILE_BYTES)
    except UnreadableFileError as exc:
        if exc.reason == "missing":
            raise ParameterError(f"parameter 'state_file': {path} does not exist", name="state_file") from None
        raise refuse("is a folder, not a deployment file" if exc.reason == "folder" else exc.problem) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise refuse(f"is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise refuse("is not a deployment: its JSON is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise refuse(f"is not a deployment JSON file ({exc})") from None
    return check_deployment(data, str(path), spec, environment)


def check_deployment(
    data: Any, source: str, spec: StackSpec, environment: str, *, parameter: str = "state_file"
) -> dict[str, Any]:
    """Parsed JSON checked to be a Pulumi deployment of this stack and environment; errors name `parameter`."""
    _check_deployment_shape(data, source, parameter)
    _check_deployment_owner(data["deployment"], source, config.get_stack_project(spec.name), environment, parameter)
    return data


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
        raise ParameterError(
            f"parameter '{parameter}': {source} is not a Pulumi deployment; expected {expected}", name=parameter
        )
    deployment = data["deployment"]
    if not isinstance(deployment.get("manifest"), dict):
        raise ParameterError(
            f"parameter '{parameter}': {source} has no deployment manifest; expected {expected}", name=parameter
        )
    resources = deployment.get("resources", [])
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and isinstance(r.get("urn"), str) for r in resources
    ):
        raise ParameterError(
            f"parameter '{parameter}': {source}: deployment.resources must be a list of resources, each with a urn",
            name=parameter,
        )


def _check_deployment_owner(
    deployment: dict[str, Any], source: str, project: str, environment: str, parameter: str
) -> None:
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
