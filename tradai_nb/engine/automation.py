"""The Pulumi Automation API, wrapped once: stacks on the self-managed backend, their config, and the actions."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import urllib.error
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pulumi import automation as auto
from pulumi.automation._stack import ImportResource  # not re-exported by pulumi.automation

from tradai_nb import aws, config, troubleshooting
from tradai_nb.engine import offloop
from tradai_nb.errors import (
    AutomationError,
    ParameterError,
    PassphraseMissingError,
    PulumiCliMissingError,
    StackLockedError,
    StackNotDeployedError,
    StackProgramError,
)
from tradai_nb.guards import check_destroy_policy, check_import, load_deployment
from tradai_nb.records import gate
from tradai_nb.settings import PROJECT_ROOT, Settings, local_folder, tradai_home
from tradai_nb.stacks.common import stack_reference_name
from tradai_nb.stacks.registry import stacks

if TYPE_CHECKING:
    from tradai_nb.engine.plan import Plan

OnOutput = Callable[[str], Any]

INSTALL_DOCS_URL = troubleshooting.INSTALL_DOCS_URL
STATE_LOCKS_RUNBOOK = troubleshooting.entry("stack-locked").runbook
PASSPHRASE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE_FILE"
SECRETS_PROVIDER = "passphrase"
SECRET_MASK = "[secret]"

CHANGE_COLUMNS = ["operation", "count"]
OUTPUT_COLUMNS = ["key", "value", "secret"]
HISTORY_COLUMNS = ["version", "kind", "result", "start_time", "end_time", "message", "resource_changes"]
RESOURCE_TYPE_COLUMNS = ["type", "count"]
CHANGED_RESOURCE_COLUMNS = ["change", "type", "name", "urn", "properties"]
# What a refresh step found, by the op the engine reports: refresh steps name their outcome through their diffs.
_DRIFT_OPS = {"update": "update", "delete": "delete", "replace": "replace", "refresh": "update"}

# pulumi-aws endpoint keys of the AWS APIs each stack's resources and invokes call. A local deployment points only
# these at the sandbox: every configured endpoint costs provider start-up time (pulumi/pulumi-aws#2880).
AWS_SERVICES: dict[str, tuple[str, ...]] = {
    "persistent": ("s3", "dynamodb", "ecr", "cognitoidp", "codeartifact", "cloudtrail", "iam", "sts"),
    "foundation": (
        "ec2",
        "autoscaling",
        "iam",
        "kms",
        "logs",
        "rds",
        "secretsmanager",
        "lambda",
        "sqs",
        "sns",
        "ssm",
        "sts",
    ),
    "compute": (
        "iam",
        "elbv2",
        "ecs",
        "ec2",
        "autoscaling",
        "servicediscovery",
        "lambda",
        "sfn",
        "sns",
        "events",
        "logs",
        "ssm",
        "sts",
    ),
    "edge": ("apigatewayv2", "wafv2", "cloudwatch", "logs", "sts"),
}
# Provider settings that carry credentials are stored encrypted in the stack config.
SECRET_CONFIG_KEYS = frozenset({"aws:accessKey", "aws:secretKey"})
# The CrossGuard pack the CLI runs on every preview and up: the same rules as the offline check (review/policy.py).
POLICY_PACK_DIR = PROJECT_ROOT / "policy"

# Pulumi's -v levels stop meaning anything new past 11 (the CLI's own examples go to 9 and 11).
MAX_VERBOSITY = 11

_LOCK_LINE = re.compile(r"(\S+/\.pulumi/locks/\S+?\.json): created by (\S+) \(pid (\d+)\) at (\S+)")


@dataclass(frozen=True)
class StackTarget:
    """Where one stack of one environment lives: its names, its backend, and the local workspace folder."""

    stack: str
    environment: str
    project: str
    name: str
    backend_url: str
    work_dir: Path


@dataclass
class AutomationResult:
    """What a stack action did, as data: a summary table, outputs, an export's deployment, the resources a preview
    of drift or an import changes. A stack action (actions.run_stack_action) also names its environment, stack and
    action, holds the offline plan (action `plan`) and, for compute's preview and up, the Lambda images checked
    first."""

    summary: pd.DataFrame
    outputs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OUTPUT_COLUMNS))
    deployment: dict[str, Any] | None = None
    changed_resources: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CHANGED_RESOURCE_COLUMNS))
    environment: str = ""
    stack: str = ""
    action: str = ""
    plan: Plan | None = None
    images: pd.DataFrame | None = None

    def input_digests(self) -> pd.DataFrame:
        """For action `plan`: each planned resource with a digest of its inputs (a changed property changes its
        row); empty for the other actions."""
        from tradai_nb.engine.digest import input_digests

        return input_digests(self.plan)


@dataclass(frozen=True)
class EngineLogging:
    """How much the Pulumi engine says, as the guide's modes: `-v=N --logtostderr`, `--debug`, `--logflow`,
    `--tracing file:...`."""

    verbose: int = 0
    debug: bool = False
    log_flow: bool = False
    trace_file: str | None = None

    def __post_init__(self) -> None:
        if (
            isinstance(self.verbose, bool)
            or not isinstance(self.verbose, int)
            or not 0 <= self.verbose <= MAX_VERBOSITY
        ):
            raise ParameterError(
                f"parameter 'log_level' (--verbose): expected a whole number from 0 (quiet) to "
                f"{MAX_VERBOSITY} (trace everything), got {self.verbose!r}",
                name="log_level",
            )
        if self.trace_file is not None and not Path(self.trace_file).expanduser().resolve().parent.is_dir():
            raise ParameterError(
                f"--trace {self.trace_file}: its folder does not exist; name a file in an existing folder",
                name="trace_file",
            )

    def options(self) -> dict[str, Any]:
        """The keyword arguments of Stack.preview/up/refresh/destroy that carry these modes."""
        options: dict[str, Any] = {}
        if self.verbose:
            options.update(log_verbosity=self.verbose, log_to_std_err=True)
        if self.debug:
            options["debug"] = True
        if self.log_flow:
            options["log_flow"] = True
        if self.trace_file:
            options["tracing"] = f"file:{Path(self.trace_file).expanduser().resolve()}"
        return options


QUIET = EngineLogging()


@dataclass(frozen=True)
class _OpenStack:
    stack: auto.Stack
    command: auto.PulumiCommand
    target: StackTarget
    env_vars: Mapping[str, str]


def default_cli_root() -> Path:
    """Where PulumiCommand.install() puts the CLI matching this SDK: ~/.pulumi/versions/<sdk version>."""
    return Path.home() / ".pulumi" / "versions" / importlib.metadata.version("pulumi")


def find_pulumi_cli(action: str = "this action") -> auto.PulumiCommand:
    """The Pulumi CLI as the SDK finds it: `pulumi` on PATH, else the one `tradai-nb setup` installed."""
    try:
        return auto.PulumiCommand()
    except FileNotFoundError:
        pass
    except (auto.InvalidVersionError, OSError, subprocess.CalledProcessError) as exc:
        raise PulumiCliMissingError(_unusable_cli_message("the `pulumi` on PATH", exc, action)) from None
    root = default_cli_root()
    try:
        return auto.PulumiCommand(root=str(root))
    except FileNotFoundError:
        raise PulumiCliMissingError(
            f"the Pulumi CLI is not installed (no `pulumi` on PATH, none in {root / 'bin'}), and action {action!r} "
            f"needs it. {troubleshooting.entry('pulumi-cli-missing').advice()}"
        ) from None
    except (auto.InvalidVersionError, OSError, subprocess.CalledProcessError) as exc:
        raise PulumiCliMissingError(_unusable_cli_message(f"the CLI in {root}", exc, action)) from None


def install_pulumi_cli(on_output: OnOutput = print) -> auto.PulumiCommand:
    """Install the Pulumi CLI matching this SDK (and the pinned aws plugin); say exactly why when it cannot."""
    try:
        command = find_pulumi_cli("setup")
        on_output(f"Pulumi CLI {command.version} found: {command.command}")
    except PulumiCliMissingError:
        on_output(f"installing the Pulumi CLI {importlib.metadata.version('pulumi')} into {default_cli_root()} ...")
        command = _install_cli()
        on_output(f"Pulumi CLI {command.version} installed: {command.command}")
    version = aws_plugin_version()
    try:
        command.run(["plugin", "install", "resource", "aws", version], str(PROJECT_ROOT), {}, on_output, on_output)
    except auto.CommandError as exc:
        raise AutomationError(
            f"the Pulumi CLI is ready, but installing the aws plugin {version} failed: {_stderr_tail(exc)}. "
            "Stack actions install it on first use; check network access to get.pulumi.com and github.com",
            action="setup",
        ) from None
    on_output(f"aws plugin {version} installed")
    return command


def aws_plugin_version() -> str:
    """The pulumi-aws plugin version pinned to the installed pulumi_aws package."""
    return f"v{importlib.metadata.version('pulumi_aws')}"


def require_passphrase() -> str:
    """Name of the environment variable that supplies the secrets passphrase; its value stays with the CLI."""
    if os.environ.get(PASSPHRASE_VARIABLE):
        return PASSPHRASE_VARIABLE
    passphrase_file = os.environ.get(PASSPHRASE_FILE_VARIABLE)
    advice = troubleshooting.entry("passphrase-missing").advice()
    if passphrase_file:
        if Path(passphrase_file).expanduser().is_file():
            return PASSPHRASE_FILE_VARIABLE
        raise PassphraseMissingError(
            f"{PASSPHRASE_FILE_VARIABLE} names {passphrase_file}, which is not a file: point it at the file holding "
            f"the environment's Pulumi passphrase. {advice}"
        )
    raise PassphraseMissingError(f"the Pulumi secrets passphrase is not set. {advice}")


def stack_target(settings: Settings, stack: str) -> StackTarget:
    """Names, backend and workspace folder of a stack; a file:// backend folder is created if missing."""
    project = config.get_stack_project(stacks.get(stack).name)
    work_dir = tradai_home() / "workspaces" / project
    work_dir.mkdir(parents=True, exist_ok=True)
    return StackTarget(
        stack=stack,
        environment=settings.environment,
        project=project,
        name=stack_reference_name(stack, settings.environment),
        backend_url=backend_url(settings),
        work_dir=work_dir,
    )


def backend_url(settings: Settings) -> str:
    """The backend URL for the CLI: s3:// as configured; file:// made absolute (settings.local_folder)."""
    url = settings.pulumi_backend_url
    if not url.startswith("file://"):
        return url
    folder = local_folder(url)
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve().as_uri()


def stack_config(settings: Settings, stack: str) -> dict[str, auto.ConfigValue]:
    """The stack config: the settings under the project's namespace, and the aws provider's configuration."""
    project = config.get_stack_project(stack)
    values = {
        f"{project}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in settings.model_dump(mode="json").items()
        if value is not None
    }
    values["aws:region"] = settings.aws_region
    if settings.is_local:
        values.update(_sandbox_provider_config(settings, stack))
    elif settings.aws_profile:
        values["aws:profile"] = settings.aws_profile
    return {key: auto.ConfigValue(value, secret=key in SECRET_CONFIG_KEYS) for key, value in values.items()}


def _sandbox_provider_config(settings: Settings, stack: str) -> dict[str, str]:
    endpoint_url = settings.endpoint_url
    if endpoint_url is None:
        raise RuntimeError(f"the {settings.environment} environment has no sandbox endpoint to point the provider at")
    endpoints = {f"aws:endpoints[0].{service}": endpoint_url for service in AWS_SERVICES[stack]}
    return {
        **endpoints,
        "aws:accessKey": aws.SANDBOX_ACCESS_KEY,
        "aws:secretKey": aws.SANDBOX_SECRET_KEY,
        "aws:skipCredentialsValidation": "true",
        "aws:skipRequestingAccountId": "true",
        # No instance metadata service on a workstation: asking for it only waits for a timeout.
        "aws:skipMetadataApiCheck": "true",
        "aws:s3UsePathStyle": "true",
    }


def preview(
    settings: Settings, stack: str, *, logging: EngineLogging = QUIET, on_output: OnOutput = print
) -> AutomationResult:
    """What `up` would change, with the diff streamed to on_output. The offline policy check runs first and says
    what it found (a preview still runs when it finds mandatory violations: `up` is what refuses them); the CLI
    runs the policy pack too."""
    _known(stack)()
    find_pulumi_cli("preview")  # without the CLI there is no preview: say so before planning anything
    report_policy(settings, stack, on_output)
    return offloop.call(_preview, settings, stack, logging, on_output=on_output)


def up(
    settings: Settings,
    stack: str,
    *,
    confirm: str = "",
    checks: Sequence[Callable[[], None]] = (),
    logging: EngineLogging = QUIET,
    on_output: OnOutput = print,
) -> AutomationResult:
    """Deploy the stack; returns the changes made and the stack outputs (secrets masked). After the guard, the
    offline policy check refuses a plan that breaks a mandatory rule (PolicyViolationError); then `checks`, the
    caller's own conditions (images in ECR), run, all before anything is deployed."""
    from tradai_nb.review.policy import require_policy

    with _stack_change(
        settings, stack, "up", confirm=confirm, checks=[require_policy(settings, [stack]), *checks], on_output=on_output
    ):
        return offloop.call(_up, settings, stack, logging, on_output=on_output)


def report_policy(settings: Settings, stack: str, on_output: OnOutput = print) -> None:
    """Run the offline policy check of a stack and say its headline and each violation to on_output."""
    from tradai_nb.review.policy import policy_check

    report = policy_check(settings, [stack])
    on_output(report.headline())
    for violation in report.table().itertuples(index=False):
        on_output(f"  {violation.level} [{violation.rule}] {violation.type} {violation.name}: {violation.message}")


def refresh(
    settings: Settings, stack: str, *, confirm: str = "", logging: EngineLogging = QUIET, on_output: OnOutput = print
) -> AutomationResult:
    """Bring the stack's state in line with what exists in AWS."""
    with _stack_change(settings, stack, "refresh", confirm=confirm, on_output=on_output):
        return offloop.call(_refresh, settings, stack, logging, on_output=on_output)


def preview_refresh(
    settings: Settings, stack: str, *, logging: EngineLogging = QUIET, on_output: OnOutput = print
) -> AutomationResult:
    """What `refresh` would change (drift between the state and AWS); the state is left as it is."""
    return offloop.call(_preview_refresh, settings, stack, logging, on_output=on_output)


def destroy(
    settings: Settings,
    stack: str,
    *,
    confirm: str = "",
    allow_destroy: bool = False,
    logging: EngineLogging = QUIET,
    on_output: OnOutput = print,
) -> AutomationResult:
    """Delete every resource of the stack; its history and config stay. Persistent is never destroyed, foundation
    only with allow_destroy=True."""

    def destroy_policy() -> None:
        check_destroy_policy(stacks.get(stack), settings.environment, allow_destroy)

    with _stack_change(
        settings,
        stack,
        "destroy",
        confirm=confirm,
        parameters={"allow_destroy": allow_destroy},
        checks=[destroy_policy],
        on_output=on_output,
    ):
        return offloop.call(_destroy, settings, stack, logging, on_output=on_output)


def outputs(
    settings: Settings, stack: str, *, show_secrets: bool = False, on_output: OnOutput = print
) -> AutomationResult:
    """The stack's current outputs, secret values masked unless show_secrets."""
    return offloop.call(_outputs, settings, stack, show_secrets, on_output=on_output)


def export(settings: Settings, stack: str, *, on_output: OnOutput = print) -> AutomationResult:
    """The stack's deployment as `pulumi stack export` writes it, secrets left encrypted."""
    return offloop.call(_export, settings, stack, on_output=on_output)


def import_state(
    settings: Settings,
    stack: str,
    deployment: Mapping[str, Any] | str | Path,
    *,
    confirm: str = "",
    on_output: OnOutput = print,
) -> AutomationResult:
    """Replace the stack's state with a deployment (what `export` returned, or the path of a file holding it): only
    a deployment of this stack and environment that holds resources, under a secrets provider this environment
    can open."""
    checked: list[dict[str, Any]] = []
    source = str(deployment) if isinstance(deployment, (str, Path)) else "the deployment"

    def importable() -> None:
        spec = stacks.get(stack)
        data = (
            load_deployment(deployment, spec, settings.environment)
            if isinstance(deployment, (str, Path))
            else json.loads(json.dumps(deployment))
        )
        checked.append(check_import(data, source, spec, settings))

    with _stack_change(
        settings,
        stack,
        "import",
        confirm=confirm,
        parameters={"state_file": source},
        checks=[importable],
        on_output=on_output,
    ):
        return offloop.call(_import_state, settings, stack, checked[0], on_output=on_output)


def cancel(settings: Settings, stack: str, *, confirm: str = "", on_output: OnOutput = print) -> AutomationResult:
    """Cancel the stack's running update and release its lock."""
    with _stack_change(settings, stack, "cancel", confirm=confirm, on_output=on_output):
        return offloop.call(_cancel, settings, stack, on_output=on_output)


def import_resource(
    settings: Settings,
    stack: str,
    *,
    resource_type: str,
    name: str,
    resource_id: str,
    parent: str = "",
    confirm: str = "",
    on_output: OnOutput = print,
) -> AutomationResult:
    """Adopt an existing AWS resource into the stack's state (Stack.import_resources, as `pulumi import` does),
    protected; the stack program must then declare it (ops.resource_import shows the declaration)."""
    from tradai_nb.importable import import_request

    checked: list[Any] = []

    def importable() -> None:
        checked.append(import_request(settings.environment, stack, resource_type, name, resource_id, parent))

    with _stack_change(
        settings,
        stack,
        "import-resource",
        confirm=confirm,
        parameters={"resource_type": resource_type, "name": name, "resource_id": resource_id, "parent": parent},
        checks=[importable],
        on_output=on_output,
    ):
        return offloop.call(_import_resource, settings, stack, checked[0], on_output=on_output)


def init_stacks(settings: Settings, *, confirm: str = "", on_output: OnOutput = print) -> AutomationResult:
    """Create the environment's four stacks on its backend (passphrase secrets provider, projects tradai-<stack>),
    in dependency order; stacks that exist are left as they are. The summary says what was done to each."""
    names = list(stacks.names())
    with gate.change(
        settings,
        "stack.init",
        target=settings.environment,
        confirm=confirm,
        parameters={"stacks": names},
        on_output=on_output,
    ):
        return offloop.call(_init_stacks, settings, names, on_output=on_output)


INIT_COLUMNS = ["stack", "name", "backend", "result"]


def history(settings: Settings, stack: str, *, on_output: OnOutput = print) -> AutomationResult:
    """The stack's past updates, newest first."""
    return offloop.call(_history, settings, stack, on_output=on_output)


ACTIONS = ("preview", "up", "refresh", "destroy", "outputs", "export", "import", "cancel", "history")


def run_action(
    settings: Settings,
    stack: str,
    action: str,
    *,
    confirm: str = "",
    allow_destroy: bool = False,
    deployment: Mapping[str, Any] | str | Path | None = None,
    checks: Sequence[Callable[[], None]] = (),
    logging: EngineLogging = QUIET,
    on_output: OnOutput = print,
) -> AutomationResult:
    """Run one Automation API action; changing actions pass their change gate (guard, then a record). `checks` go
    to `up`'s gate; `logging` reaches the engine for the actions that run the program."""
    if action == "import":
        if deployment is None:
            raise ParameterError(
                "parameter 'state_file': action 'import' needs the deployment to import (the path "
                "of what action='export' wrote)",
                name="state_file",
            )
        return import_state(settings, stack, deployment, confirm=confirm, on_output=on_output)
    if action == "destroy":
        return destroy(
            settings, stack, confirm=confirm, allow_destroy=allow_destroy, logging=logging, on_output=on_output
        )
    if action == "up":
        return up(settings, stack, confirm=confirm, checks=checks, logging=logging, on_output=on_output)
    if action == "refresh":
        return refresh(settings, stack, confirm=confirm, logging=logging, on_output=on_output)
    if action == "cancel":
        return cancel(settings, stack, confirm=confirm, on_output=on_output)
    if action == "preview":
        return preview(settings, stack, logging=logging, on_output=on_output)
    if action not in ACTIONS:
        raise ParameterError(
            f"parameter 'action': {action!r} is not an Automation API action; choose one of {', '.join(ACTIONS)}",
            name="action",
        )
    return {"outputs": outputs, "export": export, "history": history}[action](settings, stack, on_output=on_output)


def _stack_change(
    settings: Settings,
    stack: str,
    action: str,
    *,
    confirm: str,
    parameters: Mapping[str, Any] | None = None,
    checks: Sequence[Callable[[], None]] = (),
    on_output: OnOutput,
) -> AbstractContextManager[gate.Change]:
    """The change gate of one action on one stack (`stack.<action>`): the stack is its target and first parameter,
    and that it is a known stack is the first check."""
    return gate.change(
        settings,
        f"stack.{action}",
        target=stack,
        confirm=confirm,
        parameters={"stack": stack, **(parameters or {})},
        checks=[_known(stack), *checks],
        on_output=on_output,
    )


def _known(stack: str) -> Callable[[], None]:
    def check() -> None:
        if stack not in stacks.names():
            raise ParameterError(
                f"parameter 'stack': unknown stack {stack!r}; choose one of {', '.join(stacks.names())}", name="stack"
            )

    return check


# The actions themselves, run on the Pulumi worker thread (tradai_nb.engine.offloop).


def _preview(settings: Settings, stack: str, logging: EngineLogging, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "preview", create=True, runs_program=True) as opened:
        result = opened.stack.preview(
            diff=True,
            color="never",
            on_output=on_output,
            on_error=on_output,
            policy_packs=policy_packs(),
            **logging.options(),
        )
    return AutomationResult(change_summary(result.change_summary))


def _up(settings: Settings, stack: str, logging: EngineLogging, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "up", create=True, runs_program=True) as opened:
        result = opened.stack.up(
            color="never",
            on_output=on_output,
            on_error=on_output,
            show_secrets=False,
            policy_packs=policy_packs(),
            **logging.options(),
        )
    return AutomationResult(change_summary(result.summary.resource_changes), outputs_table(result.outputs))


def _refresh(settings: Settings, stack: str, logging: EngineLogging, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "refresh", create=False, runs_program=True) as opened:
        result = opened.stack.refresh(
            color="never", on_output=on_output, on_error=on_output, show_secrets=False, **logging.options()
        )
    return AutomationResult(change_summary(result.summary.resource_changes))


def _preview_refresh(
    settings: Settings, stack: str, logging: EngineLogging, *, on_output: OnOutput
) -> AutomationResult:
    events: list[auto.EngineEvent] = []
    with _open_stack(settings, stack, "preview-refresh", create=False, runs_program=True) as opened:
        result = opened.stack.preview_refresh(
            color="never",
            on_output=on_output,
            on_error=on_output,
            on_event=events.append,
            show_secrets=False,
            **logging.options(),
        )
    return AutomationResult(change_summary(result.change_summary), changed_resources=changed_resources(events))


def _destroy(settings: Settings, stack: str, logging: EngineLogging, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "destroy", create=False, runs_program=True) as opened:
        result = opened.stack.destroy(
            color="never", on_output=on_output, on_error=on_output, show_secrets=False, **logging.options()
        )
    return AutomationResult(change_summary(result.summary.resource_changes))


def _outputs(settings: Settings, stack: str, show_secrets: bool, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "outputs", create=False, runs_program=False) as opened:
        table = outputs_table(opened.stack.outputs(), show_secrets=show_secrets)
    return AutomationResult(table, table)


def _export(settings: Settings, stack: str, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "export", create=False, runs_program=False) as opened:
        # Without --show-secrets the export keeps the ciphertexts: safe to store, and importable as it is.
        result = opened.command.run(
            ["stack", "export", "--stack", opened.target.name], str(opened.target.work_dir), dict(opened.env_vars)
        )
    try:
        deployment = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise AutomationError(
            f"`pulumi stack export` of {opened.target.name} printed no JSON ({exc})",
            stack=opened.target.name,
            action="export",
        ) from None
    return AutomationResult(resource_types(deployment), deployment=deployment)


def _import_state(
    settings: Settings, stack: str, deployment: Mapping[str, Any], *, on_output: OnOutput
) -> AutomationResult:
    with _open_stack(settings, stack, "import", create=True, runs_program=False) as opened:
        opened.stack.import_stack(auto.Deployment(version=deployment["version"], deployment=deployment["deployment"]))
        on_output(f"imported {len(deployment['deployment'].get('resources', []))} resources into {opened.target.name}")
    return AutomationResult(resource_types(deployment))


def _import_resource(settings: Settings, stack: str, request: Any, *, on_output: OnOutput) -> AutomationResult:
    resource = ImportResource(type=request.type.token, name=request.name, id=request.id)
    # A parent is named through the name table, which maps the name to the parent's URN.
    name_table = None
    if request.parent:
        resource["parent"] = "parent"
        name_table = {"parent": request.parent}
    with _open_stack(settings, stack, "import-resource", create=False, runs_program=True) as opened:
        result = opened.stack.import_resources(
            message=f"tradai-nb import {request.type.token} {request.id}",
            resources=[resource],
            name_table=name_table,
            protect=True,
            on_output=on_output,
            show_secrets=False,
        )
    if result.generated_code:
        on_output(f"the engine's declaration of what it imported:\n{result.generated_code}")
    summary = change_summary(result.summary.resource_changes)
    return AutomationResult(
        summary,
        changed_resources=pd.DataFrame(
            [("import", request.type.token, request.name, request.urn, "")], columns=CHANGED_RESOURCE_COLUMNS
        ),
    )


def _init_stacks(settings: Settings, names: Sequence[str], *, on_output: OnOutput) -> AutomationResult:
    command = find_pulumi_cli("init")
    require_passphrase()
    rows = []
    for stack in names:
        target = stack_target(settings, stack)
        arguments: dict[str, Any] = {
            "stack_name": target.name,
            "project_name": target.project,
            "program": stacks.get(stack).program(settings),
            "opts": _workspace_options(settings, target, command),
        }
        with _translated_errors(settings, target, "init"):
            try:
                auto.select_stack(**arguments)
                result = "exists"
            except auto.StackNotFoundError:
                auto.create_stack(**arguments)
                result = "created"
        on_output(f"{target.name}: {result} on {target.backend_url}")
        rows.append((stack, target.name, target.backend_url, result))
    return AutomationResult(pd.DataFrame(rows, columns=INIT_COLUMNS))


def _cancel(settings: Settings, stack: str, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "cancel", create=False, runs_program=False) as opened:
        opened.stack.cancel()
        on_output(f"cancelled the update of {opened.target.name}; its lock is released")
    return AutomationResult(pd.DataFrame([{"stack": opened.target.name, "result": "cancelled"}]))


def _history(settings: Settings, stack: str, *, on_output: OnOutput) -> AutomationResult:
    with _open_stack(settings, stack, "history", create=False, runs_program=False) as opened:
        summaries = opened.stack.history(show_secrets=False)
    return AutomationResult(history_table(summaries))


def policy_packs() -> list[str]:
    """The policy packs preview and up pass to the CLI (absolute paths)."""
    return [str(POLICY_PACK_DIR.resolve())]


def change_summary(resource_changes: Mapping[Any, int] | None) -> pd.DataFrame:
    """Resource counts by operation (create, update, delete, same, ...)."""
    rows = [(getattr(op, "value", op), count) for op, count in (resource_changes or {}).items()]
    return pd.DataFrame(sorted(rows), columns=CHANGE_COLUMNS)


def outputs_table(output_map: Mapping[str, auto.OutputValue], *, show_secrets: bool = False) -> pd.DataFrame:
    """Stack outputs as key, value, secret; secret values never leave as plaintext unless show_secrets."""
    rows = [
        (key, SECRET_MASK if out.secret and not show_secrets else out.value, out.secret)
        for key, out in sorted(output_map.items())
    ]
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def history_table(summaries: list[auto.UpdateSummary]) -> pd.DataFrame:
    """Past updates: version, kind, result, start and end time, message, resource changes by operation."""
    rows = [
        (
            s.version,
            s.kind,
            s.result,
            s.start_time,
            s.end_time,
            s.message,
            {getattr(op, "value", op): n for op, n in (s.resource_changes or {}).items()},
        )
        for s in summaries
    ]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def changed_resources(events: list[auto.EngineEvent]) -> pd.DataFrame:
    """Resources a run would change, from its engine events: change, type, name, urn, changed properties."""
    latest: dict[str, auto.StepEventMetadata] = {}
    for event in events:
        step = event.res_outputs_event or event.resource_pre_event
        if step is not None:
            latest[step.metadata.urn] = step.metadata
    rows = []
    for urn, metadata in latest.items():
        op = getattr(metadata.op, "value", metadata.op)
        properties = sorted(set(metadata.diffs or []) | set(metadata.detailed_diff or {}))
        if op not in _DRIFT_OPS or (op == "refresh" and not properties and metadata.new is not None):
            continue
        change = "delete" if op == "refresh" and metadata.new is None else _DRIFT_OPS[op]
        rows.append((change, metadata.type, urn.rsplit("::", 1)[-1], urn, ", ".join(properties)))
    return pd.DataFrame(sorted(rows, key=lambda r: (r[1], r[2])), columns=CHANGED_RESOURCE_COLUMNS)


def resource_types(deployment: Mapping[str, Any]) -> pd.DataFrame:
    """Resource counts by type in a deployment."""
    types = pd.Series(
        [r["type"] for r in deployment.get("deployment", {}).get("resources", []) if "type" in r], dtype=str
    )
    if types.empty:
        return pd.DataFrame({"type": pd.Series(dtype=str), "count": pd.Series(dtype=int)})
    return types.value_counts(sort=False).rename_axis("type").rename("count").reset_index()


@contextmanager
def _open_stack(
    settings: Settings, stack: str, action: str, *, create: bool, runs_program: bool
) -> Iterator[_OpenStack]:
    command = find_pulumi_cli(action)
    require_passphrase()
    target = stack_target(settings, stack)
    options = _workspace_options(settings, target, command)
    entry = auto.create_or_select_stack if create else auto.select_stack
    with _translated_errors(settings, target, action):
        pulumi_stack = entry(
            stack_name=target.name,
            project_name=target.project,
            program=stacks.get(stack).program(settings),
            opts=options,
        )
        if runs_program:
            pulumi_stack.set_all_config(stack_config(settings, stack), path=True)
            pulumi_stack.workspace.install_plugin("aws", aws_plugin_version())
        yield _OpenStack(pulumi_stack, command, target, options.env_vars or {})


def _workspace_options(
    settings: Settings, target: StackTarget, command: auto.PulumiCommand
) -> auto.LocalWorkspaceOptions:
    """The workspace of a stack: its folder, the passphrase secrets provider, the project on its backend."""
    return auto.LocalWorkspaceOptions(
        work_dir=str(target.work_dir),
        secrets_provider=SECRETS_PROVIDER,
        project_settings=auto.ProjectSettings(
            name=target.project, runtime="python", backend=auto.ProjectBackend(url=target.backend_url)
        ),
        env_vars=_workspace_env(settings, target),
        pulumi_command=command,
    )


def _workspace_env(settings: Settings, target: StackTarget) -> dict[str, str]:
    # Set explicitly so an ambient PULUMI_BACKEND_URL (say, prod's bucket) can never redirect this environment.
    env = {"PULUMI_BACKEND_URL": target.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    if not settings.is_local:
        env["AWS_REGION"] = settings.aws_region
        if settings.aws_profile:
            env["AWS_PROFILE"] = settings.aws_profile
    return env


@contextmanager
def _translated_errors(settings: Settings, target: StackTarget, action: str) -> Iterator[None]:
    names = {"stack": target.stack, "env": settings.environment, "action": action, "profile": settings.aws_profile}
    try:
        yield
    except auto.ConcurrentUpdateError as exc:
        raise _locked_error(settings, target, action, str(exc)) from exc
    except auto.StackNotFoundError as exc:
        raise StackNotDeployedError(
            f"stack {target.name} does not exist on {target.backend_url}, so there is nothing to {action}. "
            f"{troubleshooting.entry('stack-not-found').advice(**names)}",
            stack=target.name,
            action=action,
        ) from exc
    except auto.StackAlreadyExistsError as exc:
        # The SDK's test ("stack.*already exists" on one line) also catches a resource that already exists.
        if troubleshooting.best(str(exc)) is not troubleshooting.entry("stack-already-exists"):
            raise _command_error(target, action, exc, names) from exc
        raise AutomationError(
            f"stack {target.name} was created on {target.backend_url} by someone else while this run created it. "
            f"{troubleshooting.entry('stack-already-exists').advice(**names)}",
            stack=target.name,
            action=action,
        ) from exc
    except (auto.InlineSourceRuntimeError, auto.RuntimeError, auto.CompilationError) as exc:
        raise StackProgramError(
            f"the program of stack {target.stack!r} failed during {action}: {_stderr_tail(exc)}. "
            f"{troubleshooting.entry('stack-program-failed').advice(**names)}",
            stack=target.name,
            action=action,
        ) from exc
    except auto.CommandError as exc:
        raise _command_error(target, action, exc, names) from exc


def _command_error(
    target: StackTarget, action: str, exc: auto.CommandError, names: Mapping[str, str | None]
) -> AutomationError:
    # The CLI's own words say which known error this is (resource already exists, credentials, quota, ...).
    known = troubleshooting.best(str(exc), default="pulumi-command-failed")
    return AutomationError(
        f"pulumi {action} of {target.name} failed: {_stderr_tail(exc)}. {known.title}: {known.cause}. "
        f"{known.advice(**names)}",
        stack=target.name,
        action=action,
    )


def _locked_error(settings: Settings, target: StackTarget, action: str, text: str) -> StackLockedError:
    locks = _LOCK_LINE.findall(text)
    held_by = "; ".join(f"{path} (created by {who}, pid {pid}, at {when})" for path, who, pid, when in locks)
    advice = troubleshooting.entry("stack-locked").advice(stack=target.stack, env=settings.environment)
    return StackLockedError(
        f"stack {target.name} is locked by another update: {held_by or 'the backend reported a conflict'}; "
        f"{action!r} did not start. {advice}",
        stack=target.name,
        action=action,
        locks=[path for path, *_ in locks],
    )


def _stderr_tail(exc: BaseException, lines: int = 6) -> str:
    # CommandError keeps only the text "code: .. stdout: .. stderr: ..."; the stderr part says what went wrong.
    text = str(exc)
    stderr = text.rsplit(" stderr: ", 1)[-1].strip()
    kept = [line.strip() for line in stderr.splitlines() if line.strip()][-lines:]
    return " / ".join(kept) or text.strip()


def _unusable_cli_message(where: str, exc: BaseException, action: str) -> str:
    return (
        f"{where} cannot be used with the pulumi SDK {importlib.metadata.version('pulumi')} ({exc}), and action "
        f"{action!r} needs it. {troubleshooting.entry('pulumi-cli-missing').advice()}"
    )


def _install_cli() -> auto.PulumiCommand:
    try:
        return auto.PulumiCommand.install()
    except urllib.error.URLError as exc:
        reason = f"downloading the installer from get.pulumi.com failed: {exc.reason}"
    except subprocess.CalledProcessError as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else str(exc.output or "")
        reason = f"the installer exited with code {exc.returncode}: {' / '.join(output.strip().splitlines()[-4:])}"
    except (OSError, auto.InvalidVersionError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    raise PulumiCliMissingError(
        f"could not install the Pulumi CLI ({reason}). Install it by hand from {INSTALL_DOCS_URL} and put it on PATH; "
        f"until then action=plan works offline. Runbook: {troubleshooting.entry('pulumi-cli-missing').runbook}."
    )


def reads_through_automation_api(settings: Settings) -> bool:
    """Whether exports and outputs come from the Automation API (Pulumi CLI installed, a team environment) rather
    than straight from the backend's checkpoints. On local the Automation API's backend is a different store than
    the one the runbooks read (see state_store_for), so local always reads the checkpoints."""
    if settings.is_local:
        return False
    try:
        find_pulumi_cli("export")
    except PulumiCliMissingError:
        return False
    return True
