"""The Automation API wrapper against the real pulumi.automation classes (autospecs: wrong argument names fail)."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import urllib.error
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import NonCallableMock, create_autospec

import pandas as pd
import pulumi_aws.config.outputs
import pytest
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from tradai_nb import guards
from tradai_nb.engine import automation
from tradai_nb.engine.plan import plan
from tradai_nb.errors import (
    AutomationError,
    ParameterError,
    PassphraseMissingError,
    PulumiCliMissingError,
    StackLockedError,
    StackNotDeployedError,
    StackProgramError,
)
from tradai_nb.settings import HOME_ENV_VAR, load_settings
from tradai_nb.stacks import stacks
from tradai_nb.state.sealing import secrets_provider_state

PASSPHRASE = "correct-horse-battery-staple-7f3a9c"
REAL_PULUMI_COMMAND = auto.PulumiCommand
PROGRAM_ACTIONS = ("preview", "up", "refresh", "destroy")
STATE_ACTIONS = ("outputs", "export", "import", "cancel", "history")
CREATING_ACTIONS = ("preview", "up", "import")
LOCK_PATH = "file:///srv/state/.pulumi/locks/organization/tradai-compute/dev/0d1c2b3a-lock.json"
LOCKED_STDERR = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the "
    f"lock file with `pulumi cancel`.\n  {LOCK_PATH}: created by ops@build-7 (pid 4242) at 2026-03-01T10:00:00Z"
)


def exported(project: str = "tradai-compute", environment: str = "dev") -> dict:
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "abc", "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase",
                                  "state": secrets_provider_state(environment, project, passphrase=PASSPHRASE)},
            "resources": [
                {"urn": f"urn:pulumi:{environment}::{project}::pulumi:pulumi:Stack::{project}-{environment}",
                 "type": "pulumi:pulumi:Stack", "custom": False},
                {"urn": f"urn:pulumi:{environment}::{project}::aws:ecs/cluster:Cluster::cluster",
                 "type": "aws:ecs/cluster:Cluster", "custom": True, "id": "tradai-dev"},
                {"urn": f"urn:pulumi:{environment}::{project}::aws:ecs/service:Service::backend",
                 "type": "aws:ecs/service:Service", "custom": True, "id": "backend"},
            ],
        },
    }


def update_summary(**changes: int) -> auto.UpdateSummary:
    return auto.UpdateSummary(kind="update", start_time=pd.Timestamp("2026-03-01T10:00:00").to_pydatetime(),
                              message="", environment={}, config={}, result="succeeded", version=7,
                              resource_changes=dict(changes))


@pytest.fixture
def sdk(monkeypatch, tmp_path):
    """The module-level entry points of pulumi.automation the wrapper uses, replaced by autospecs of the real ones."""
    monkeypatch.setattr(automation, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv(HOME_ENV_VAR, str(tmp_path / ".tradai"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    stack = create_autospec(auto.Stack, instance=True)
    stack.workspace = create_autospec(auto.LocalWorkspace, instance=True)
    stack.preview.return_value = auto.PreviewResult("", "", {auto.OpType.CREATE: 3, auto.OpType.SAME: 2})
    stack.up.return_value = auto.UpResult("", "", update_summary(create=3), {
        "cluster_name": auto.OutputValue("tradai-dev", secret=False),
        "db_password": auto.OutputValue("s3cr3t-from-state", secret=True),
    })
    stack.refresh.return_value = auto.RefreshResult("", "", update_summary(same=4, update=1))
    stack.destroy.return_value = auto.DestroyResult("", "", update_summary(delete=5))
    stack.outputs.return_value = {
        "alb_dns_name": auto.OutputValue("tradai-dev.elb.amazonaws.com", secret=False),
        "db_password": auto.OutputValue("s3cr3t-from-state", secret=True),
    }
    stack.history.return_value = [update_summary(create=3)]
    command_class = create_autospec(auto.PulumiCommand)
    command_class.return_value.run.return_value = auto.CommandResult(stdout=json.dumps(exported()), stderr="", code=0)
    mocks = SimpleNamespace(
        command_class=command_class,
        command=command_class.return_value,
        create_or_select=create_autospec(auto.create_or_select_stack, return_value=stack),
        select=create_autospec(auto.select_stack, return_value=stack),
        local_workspace=create_autospec(auto.LocalWorkspace),
        stack=stack,
        root=tmp_path,
    )
    monkeypatch.setattr(auto, "PulumiCommand", command_class)
    monkeypatch.setattr(auto, "create_or_select_stack", mocks.create_or_select)
    monkeypatch.setattr(auto, "select_stack", mocks.select)
    monkeypatch.setattr(auto, "LocalWorkspace", mocks.local_workspace)
    return mocks


def entry_of(sdk, action: str):
    return sdk.create_or_select if action in CREATING_ACTIONS else sdk.select


def run(settings, stack: str, action: str, lines: list[str] | None = None) -> automation.AutomationResult:
    deployment = exported(f"tradai-{stack}", settings.environment) if action == "import" else None
    on_output = lines.append if lines is not None else (lambda line: None)
    return automation.run_action(settings, stack, action, on_output=on_output, deployment=deployment)


def opened_with(sdk, action: str) -> auto.LocalWorkspaceOptions:
    return entry_of(sdk, action).call_args.kwargs["opts"]


def config_set(sdk) -> dict[str, auto.ConfigValue]:
    (config_map,), kwargs = sdk.stack.set_all_config.call_args
    assert kwargs == {"path": True}
    return config_map


def assert_no_automation_call(sdk) -> None:
    sdk.create_or_select.assert_not_called()
    sdk.select.assert_not_called()
    sdk.local_workspace.assert_not_called()
    assert sdk.stack.mock_calls == [] and sdk.stack.workspace.mock_calls == []


def test_every_cli_action_of_the_guards__has_an_automation_action():
    assert set(automation.ACTIONS) == set(guards.ACTIONS) - {"plan"}


# --- the Pulumi CLI -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", automation.ACTIONS)
def test_no_pulumi_cli__fails_at_once_naming_setup_and_plan(sdk, monkeypatch, tmp_path, settings_of, action):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # The real class does the lookup (it runs `pulumi version`); the autospec only records the calls.
    monkeypatch.setattr(auto, "PulumiCommand", create_autospec(REAL_PULUMI_COMMAND, side_effect=REAL_PULUMI_COMMAND))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(PulumiCliMissingError) as caught:
        run(settings_of("dev"), "compute", action)
    message = str(caught.value)
    assert "`tradai-nb setup`" in message and "action=plan" in message
    assert automation.INSTALL_DOCS_URL in message and f"action {action!r}" in message
    assert auto.PulumiCommand.call_args_list[-1].kwargs == {"root": str(tmp_path / "home/.pulumi/versions"
                                                                          / importlib.metadata.version("pulumi"))}
    assert_no_automation_call(sdk)
    assert not (sdk.root / ".tradai").exists()


def test_cli_on_path__is_found_the_way_the_sdk_finds_it(sdk, settings_of):
    run(settings_of("dev"), "compute", "history")
    sdk.command_class.assert_called_once_with()
    assert opened_with(sdk, "history").pulumi_command is sdk.command


def test_cli_installed_by_setup__is_used_when_none_is_on_path(sdk, settings_of, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    sdk.command_class.side_effect = [FileNotFoundError(2, "No such file or directory", "pulumi"), sdk.command]
    run(settings_of("dev"), "compute", "history")
    root = tmp_path / "home" / ".pulumi" / "versions" / importlib.metadata.version("pulumi")
    assert sdk.command_class.call_args_list[-1].kwargs == {"root": str(root)}
    assert opened_with(sdk, "history").pulumi_command is sdk.command


def test_cli_too_old__fails_naming_setup(sdk, settings_of):
    sdk.command_class.side_effect = auto.InvalidVersionError("Minimum version requirement failed")
    with pytest.raises(PulumiCliMissingError, match="tradai-nb setup") as caught:
        run(settings_of("dev"), "compute", "up")
    assert "Minimum version requirement failed" in str(caught.value)
    assert_no_automation_call(sdk)


def test_setup__installs_the_cli_and_the_pinned_aws_plugin(sdk, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    missing = FileNotFoundError(2, "No such file or directory", "pulumi")
    sdk.command_class.side_effect = [missing, missing]
    sdk.command_class.install.return_value = sdk.command
    sdk.command.version, sdk.command.command = "3.272.0", str(tmp_path / "home/.pulumi/versions/3.272.0/bin/pulumi")
    lines: list[str] = []
    assert automation.install_pulumi_cli(lines.append) is sdk.command
    sdk.command_class.install.assert_called_once_with()
    args, cwd, env, *_ = sdk.command.run.call_args.args
    assert args == ["plugin", "install", "resource", "aws", f"v{importlib.metadata.version('pulumi_aws')}"]
    assert any("installed" in line for line in lines)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (urllib.error.URLError("[Errno -3] Temporary failure in name resolution"), "name resolution"),
        (PermissionError(13, "Permission denied", "/root/.pulumi"), "Permission denied"),
    ],
    ids=["no-network", "no-permission"],
)
def test_setup_that_cannot_install__says_why_and_where_to_get_it(sdk, monkeypatch, tmp_path, failure, reason):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    missing = FileNotFoundError(2, "No such file or directory", "pulumi")
    sdk.command_class.side_effect = [missing, missing]
    sdk.command_class.install.side_effect = failure
    with pytest.raises(PulumiCliMissingError) as caught:
        automation.install_pulumi_cli(lambda line: None)
    assert reason in str(caught.value) and automation.INSTALL_DOCS_URL in str(caught.value)
    sdk.command.run.assert_not_called()


# --- the passphrase -------------------------------------------------------------------------------------------------

def test_no_passphrase__fails_before_any_stack_call(sdk, settings_of, monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(PassphraseMissingError, match="PULUMI_CONFIG_PASSPHRASE_FILE"):
        run(settings_of("dev"), "compute", "up")
    assert_no_automation_call(sdk)


def test_empty_passphrase__counts_as_missing(sdk, settings_of, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "")
    with pytest.raises(PassphraseMissingError):
        run(settings_of("dev"), "compute", "preview")
    assert_no_automation_call(sdk)


def test_passphrase_file_that_does_not_exist__fails_naming_it(sdk, settings_of, monkeypatch, tmp_path):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(tmp_path / "nope"))
    with pytest.raises(PassphraseMissingError, match="not a file"):
        run(settings_of("dev"), "compute", "preview")
    assert_no_automation_call(sdk)


def test_passphrase_file__is_enough(sdk, settings_of, monkeypatch, tmp_path):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    (tmp_path / "passphrase").write_text(PASSPHRASE)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(tmp_path / "passphrase"))
    run(settings_of("dev"), "compute", "preview")
    sdk.stack.preview.assert_called_once()


def test_passphrase__is_no_parameter_of_any_action():
    functions = [automation.run_action, *(getattr(automation, a) for a in PROGRAM_ACTIONS),
                 automation.outputs, automation.export, automation.import_state, automation.cancel, automation.history]
    for function in functions:
        assert not any("pass" in name for name in inspect.signature(function).parameters), function.__name__


def _strings(value, seen: set[int]) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, NonCallableMock) or callable(value) or id(value) in seen:
        return
    elif isinstance(value, pd.DataFrame):
        yield value.to_string()
    elif isinstance(value, Mapping):
        seen.add(id(value))
        for key, item in value.items():
            yield from _strings(key, seen)
            yield from _strings(item, seen)
    elif isinstance(value, (list, tuple, set)):
        seen.add(id(value))
        for item in value:
            yield from _strings(item, seen)
    elif hasattr(value, "__dict__"):
        seen.add(id(value))
        yield from _strings(vars(value), seen)
    else:
        yield str(value)


@pytest.mark.parametrize("environment", ["local", "dev"])
def test_passphrase__never_reaches_an_argument_a_result_or_the_output(sdk, settings_of, environment):
    lines: list[str] = []
    results = [run(settings_of(environment), "compute", action, lines) for action in automation.ACTIONS]
    recorded = [sdk.command_class, sdk.create_or_select, sdk.select, sdk.stack, sdk.stack.workspace]
    calls = [(args, kwargs) for mock in recorded for _, args, kwargs in mock.mock_calls]
    texts = list(_strings([calls, results, lines], set()))
    assert any("organization/tradai-compute" in text for text in texts)  # the scan does see the arguments
    assert not [text for text in texts if PASSPHRASE in text]
    for action in automation.ACTIONS:
        if entry_of(sdk, action).called:
            assert "PULUMI_CONFIG_PASSPHRASE" not in opened_with(sdk, action).env_vars


# --- stack, project, backend, workspace -----------------------------------------------------------------------------

@pytest.mark.parametrize("action", automation.ACTIONS)
def test_stack__is_opened_with_a_fully_qualified_name_and_its_project(sdk, settings_of, action):
    run(settings_of("dev"), "edge", action)
    entry = entry_of(sdk, action)
    other = sdk.select if entry is sdk.create_or_select else sdk.create_or_select
    kwargs = entry.call_args.kwargs
    assert kwargs["stack_name"] == "organization/tradai-edge/dev"
    assert kwargs["project_name"] == "tradai-edge"
    assert callable(kwargs["program"])
    options = kwargs["opts"]
    assert options.secrets_provider == "passphrase"
    assert options.work_dir == str(sdk.root / ".tradai" / "workspaces" / "tradai-edge")
    assert options.project_settings.name == "tradai-edge" and options.project_settings.runtime == "python"
    other.assert_not_called()


def test_local_backend__is_an_absolute_file_url_under_tradai_home(sdk, settings_of):
    run(settings_of("local"), "compute", "preview")
    folder = sdk.root / ".tradai" / "state"
    assert folder.is_dir()
    options = opened_with(sdk, "preview")
    assert options.project_settings.backend.url == folder.as_uri()
    assert options.project_settings.backend.url.startswith("file:///")
    assert options.env_vars["PULUMI_BACKEND_URL"] == folder.as_uri()
    assert "AWS_PROFILE" not in options.env_vars


def test_dev_backend__is_the_s3_bucket_reached_with_the_dev_profile(sdk, settings_of, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://tradai-pulumi-state-prod")
    run(settings_of("dev"), "compute", "up")
    options = opened_with(sdk, "up")
    assert options.project_settings.backend.url == "s3://tradai-pulumi-state-dev"
    assert options.env_vars["PULUMI_BACKEND_URL"] == "s3://tradai-pulumi-state-dev"
    assert options.env_vars["AWS_PROFILE"] == "tradai"
    assert options.env_vars["AWS_REGION"] == "eu-central-1"
    assert not (sdk.root / "s3:").exists()


# --- stack config ---------------------------------------------------------------------------------------------------

def test_dev_config__names_region_and_profile_and_no_sandbox_endpoints(sdk, settings_of):
    run(settings_of("dev"), "compute", "up")
    config_map = config_set(sdk)
    assert config_map["aws:region"].value == "eu-central-1"
    assert config_map["aws:profile"].value == "tradai"
    assert not [key for key in config_map if key.startswith("aws:endpoints") or key.endswith(("Key", "skipCredentialsValidation"))]
    assert config_map["tradai-compute:environment"].value == "dev"
    assert config_map["tradai-compute:availability_zones"].value == '["eu-central-1a", "eu-central-1b"]'
    assert not any(value.secret for value in config_map.values())


@pytest.mark.parametrize("stack", ["persistent", "foundation", "compute", "edge"])
def test_local_config__points_only_the_stacks_services_at_the_sandbox(sdk, settings_of, stack):
    settings = settings_of("local")
    run(settings, stack, "preview")
    config_map = config_set(sdk)
    endpoints = {key.removeprefix("aws:endpoints[0]."): value.value
                 for key, value in config_map.items() if key.startswith("aws:endpoints")}
    assert set(endpoints) == set(automation.AWS_SERVICES[stack])
    assert set(endpoints.values()) == {load_settings("local").endpoint_url}
    assert config_map["aws:accessKey"].value == "testing" and config_map["aws:accessKey"].secret
    assert config_map["aws:secretKey"].value == "testing" and config_map["aws:secretKey"].secret
    for flag in ("skipCredentialsValidation", "skipRequestingAccountId", "skipMetadataApiCheck", "s3UsePathStyle"):
        assert config_map[f"aws:{flag}"].value == "true" and not config_map[f"aws:{flag}"].secret
    assert "aws:profile" not in config_map
    assert config_map["aws:region"].value == "eu-central-1"


def test_local_endpoints_of_compute_and_edge__differ():
    assert "ecs" in automation.AWS_SERVICES["compute"] and "ecs" not in automation.AWS_SERVICES["edge"]
    assert "wafv2" in automation.AWS_SERVICES["edge"] and "wafv2" not in automation.AWS_SERVICES["compute"]


def test_declared_services__are_pulumi_aws_endpoint_keys():
    # The provider's endpoint keys are the wire names of the Endpoints type's getters (lambda_ is "lambda").
    known = {member.fget._pulumi_name for member in vars(pulumi_aws.config.outputs.Endpoints).values()
             if isinstance(member, property)}
    for stack, services in automation.AWS_SERVICES.items():
        assert set(services) <= known, (stack, set(services) - known)
    assert set(automation.AWS_SERVICES) == set(stacks.names())


def _endpoint_of(type_token: str) -> str:
    module, kind = type_token.split(":")[1].split("/")[0], type_token.split(":")[2]
    if module == "cloudwatch":
        return "logs" if kind.startswith("Log") else "events" if kind.startswith("Event") else "cloudwatch"
    return {"lb": "elbv2", "alb": "elbv2", "cognito": "cognitoidp", "ec2transitgateway": "ec2", "vpc": "ec2"}.get(module, module)


def test_declared_services__cover_every_resource_type_the_local_plan_creates():
    resources = plan(load_settings("local")).resources
    for stack, types in resources.groupby("stack")["type"]:
        used = {_endpoint_of(t) for t in types if t.startswith("aws:")}
        assert used <= set(automation.AWS_SERVICES[stack]), (stack, used - set(automation.AWS_SERVICES[stack]))


@pytest.mark.parametrize("action", automation.ACTIONS)
def test_program_actions__pin_the_aws_plugin_and_set_config_state_actions_do_not(sdk, settings_of, action):
    run(settings_of("dev"), "compute", action)
    if action in PROGRAM_ACTIONS:
        sdk.stack.workspace.install_plugin.assert_called_once_with("aws", f"v{importlib.metadata.version('pulumi_aws')}")
        sdk.stack.set_all_config.assert_called_once()
    else:
        sdk.stack.workspace.install_plugin.assert_not_called()
        sdk.stack.set_all_config.assert_not_called()


# --- actions and their results --------------------------------------------------------------------------------------

def test_preview__shows_the_diff_streams_output_and_summarises_by_operation(sdk, settings_of):
    lines: list[str] = []
    result_of_preview = sdk.stack.preview.return_value

    def engine_streams(*args, **kwargs):
        # The engine streams while the call runs (on the Pulumi worker thread); the caller's on_output gets it.
        kwargs["on_output"]("+ aws:ecs/cluster:Cluster cluster create")
        return result_of_preview

    sdk.stack.preview.side_effect = engine_streams
    result = run(settings_of("dev"), "compute", "preview", lines)
    kwargs = sdk.stack.preview.call_args.kwargs
    assert kwargs["diff"] is True and kwargs["color"] == "never"
    # The offline policy check speaks first, then the engine.
    assert lines[0].startswith("policy check of compute in dev") and "0 mandatory" in lines[0]
    assert lines[1:] == ["+ aws:ecs/cluster:Cluster cluster create"]
    assert result.summary.to_dict("records") == [{"operation": "create", "count": 3}, {"operation": "same", "count": 2}]


@pytest.mark.parametrize("action", ["preview", "up"])
def test_preview_and_up__pass_the_policy_pack_to_the_cli_by_absolute_path(sdk, settings_of, action):
    run(settings_of("dev"), "edge", action)
    [pack] = getattr(sdk.stack, action).call_args.kwargs["policy_packs"]
    assert pack == str(automation.POLICY_PACK_DIR.resolve()) and Path(pack).is_absolute()
    assert (Path(pack) / "PulumiPolicy.yaml").is_file() and (Path(pack) / "__main__.py").is_file()


def test_up__returns_changes_and_outputs_with_secrets_masked(sdk, settings_of):
    result = run(settings_of("dev"), "compute", "up")
    assert sdk.stack.up.call_args.kwargs["show_secrets"] is False
    assert result.summary.to_dict("records") == [{"operation": "create", "count": 3}]
    assert result.outputs.to_dict("records") == [
        {"key": "cluster_name", "value": "tradai-dev", "secret": False},
        {"key": "db_password", "value": "[secret]", "secret": True},
    ]
    assert "s3cr3t-from-state" not in result.outputs.to_string()


@pytest.mark.parametrize(("action", "expected"), [
    ("refresh", [{"operation": "same", "count": 4}, {"operation": "update", "count": 1}]),
    ("destroy", [{"operation": "delete", "count": 5}]),
], ids=["refresh", "destroy"])
def test_refresh_and_destroy__summarise_by_operation_without_secrets(sdk, settings_of, action, expected):
    result = run(settings_of("dev"), "compute", action)
    assert getattr(sdk.stack, action).call_args.kwargs["show_secrets"] is False
    assert result.summary.to_dict("records") == expected


def test_outputs__masks_secret_values(sdk, settings_of):
    result = run(settings_of("dev"), "compute", "outputs")
    assert dict(zip(result.outputs["key"], result.outputs["value"])) == {
        "alb_dns_name": "tradai-dev.elb.amazonaws.com", "db_password": "[secret]"}
    assert "s3cr3t-from-state" not in result.summary.to_string()


def test_history__is_a_table_without_secrets(sdk, settings_of):
    result = run(settings_of("dev"), "compute", "history")
    sdk.stack.history.assert_called_once_with(show_secrets=False)
    assert list(result.summary.columns) == automation.HISTORY_COLUMNS
    assert result.summary.loc[0, "version"] == 7 and result.summary.loc[0, "resource_changes"] == {"create": 3}


def test_export__returns_the_deployment_with_secrets_left_encrypted(sdk, settings_of):
    result = run(settings_of("dev"), "compute", "export")
    args, cwd, env = sdk.command.run.call_args.args[:3]
    assert args == ["stack", "export", "--stack", "organization/tradai-compute/dev"]
    assert cwd == str(sdk.root / ".tradai" / "workspaces" / "tradai-compute")
    assert env["PULUMI_BACKEND_URL"] == "s3://tradai-pulumi-state-dev"
    assert result.deployment == exported()
    assert result.summary.set_index("type")["count"].to_dict() == {
        "pulumi:pulumi:Stack": 1, "aws:ecs/cluster:Cluster": 1, "aws:ecs/service:Service": 1}


def test_import__hands_the_deployment_to_the_stack(sdk, settings_of):
    run(settings_of("dev"), "compute", "import")
    (state,), _ = sdk.stack.import_stack.call_args
    assert isinstance(state, auto.Deployment)
    assert state.version == 3 and state.deployment == exported()["deployment"]


def test_cancel__cancels_the_selected_stack(sdk, settings_of):
    result = run(settings_of("dev"), "compute", "cancel")
    sdk.stack.cancel.assert_called_once_with()
    assert result.summary.loc[0, "stack"] == "organization/tradai-compute/dev"


# --- error mapping --------------------------------------------------------------------------------------------------

def command_error(stderr: str, stdout: str = "") -> auto.CommandError:
    return create_command_error(auto.CommandResult(stdout=stdout, stderr=stderr, code=255))


def test_concurrent_update__names_the_lock_the_runbook_and_cancel(sdk, settings_of):
    sdk.stack.up.side_effect = command_error(LOCKED_STDERR)
    assert isinstance(sdk.stack.up.side_effect, auto.ConcurrentUpdateError)
    with pytest.raises(StackLockedError) as caught:
        run(settings_of("dev"), "compute", "up")
    message = str(caught.value)
    assert caught.value.locks == [LOCK_PATH]
    assert LOCK_PATH in message and "ops@build-7" in message and "pid 4242" in message
    assert automation.STATE_LOCKS_RUNBOOK in message and "action='cancel'" in message
    assert "tradai-nb stack cancel --stack compute --env dev" in message


def test_concurrent_update_in_prod__cancel_hint_carries_confirm(sdk, settings_of):
    sdk.create_or_select.side_effect = command_error("error: [409] Conflict: Another update is currently in progress.")
    with pytest.raises(StackLockedError) as caught:
        run(settings_of("prod"), "compute", "preview")
    assert "--confirm prod" in str(caught.value) and caught.value.locks == []


def test_stack_not_found__says_to_deploy_it_first(sdk, settings_of):
    sdk.select.side_effect = command_error("error: no stack named 'organization/tradai-edge/dev' found")
    assert isinstance(sdk.select.side_effect, auto.StackNotFoundError)
    with pytest.raises(StackNotDeployedError) as caught:
        run(settings_of("dev"), "edge", "outputs")
    assert "action='up'" in str(caught.value) and "s3://tradai-pulumi-state-dev" in str(caught.value)
    assert caught.value.stack == "organization/tradai-edge/dev" and caught.value.action == "outputs"


def test_stack_already_exists__says_to_run_again(sdk, settings_of):
    sdk.create_or_select.side_effect = command_error("error: stack 'organization/tradai-edge/dev' already exists")
    assert isinstance(sdk.create_or_select.side_effect, auto.StackAlreadyExistsError)
    with pytest.raises(AutomationError, match="run action='up' again"):
        run(settings_of("dev"), "edge", "up")


def test_program_failure__points_at_the_offline_plan(sdk, settings_of):
    sdk.stack.preview.side_effect = command_error(
        "error: an unhandled error occurred: program failed", stdout="python inline source runtime error: KeyError")
    with pytest.raises(StackProgramError, match="action='plan'"):
        run(settings_of("dev"), "compute", "preview")


def test_other_command_error__keeps_the_cli_reason(sdk, settings_of):
    sdk.stack.destroy.side_effect = command_error(
        "error: deleting urn:pulumi:dev::tradai-compute::aws:ecs/cluster:Cluster::cluster: AccessDenied")
    with pytest.raises(AutomationError, match="AccessDenied") as caught:
        run(settings_of("dev"), "compute", "destroy")
    assert type(caught.value) is AutomationError and caught.value.action == "destroy"


def test_export_command_error__is_mapped_too(sdk, settings_of):
    sdk.command.run.side_effect = command_error("error: no stack named 'organization/tradai-compute/dev' found")
    with pytest.raises(StackNotDeployedError):
        run(settings_of("dev"), "compute", "export")


@pytest.mark.parametrize("action", ["preview", "up", "refresh", "destroy"])
def test_engine_logging__every_mode_reaches_the_sdk_call(sdk, settings_of, tmp_path, action):
    from tradai_nb.actions import run_stack_action

    trace = tmp_path / "trace.out"
    run_stack_action(settings_of("dev"), "edge", action, log_level=9, debug=True, log_flow=True,
                     trace_file=str(trace), on_output=lambda line: None)

    kwargs = getattr(sdk.stack, action).call_args.kwargs
    assert (kwargs["log_verbosity"], kwargs["log_to_std_err"], kwargs["debug"], kwargs["log_flow"]) == (
        9, True, True, True)
    assert kwargs["tracing"] == f"file:{trace.resolve()}"


def test_engine_logging__quiet_by_default_and_a_bad_level_is_refused_before_any_call(sdk, settings_of):
    from tradai_nb.actions import run_stack_action

    run_stack_action(settings_of("dev"), "edge", "preview", on_output=lambda line: None)
    assert not {"log_verbosity", "debug", "log_flow", "tracing"} & set(sdk.stack.preview.call_args.kwargs)

    sdk.stack.preview.reset_mock()
    for level in (-1, 12, True, "9"):
        with pytest.raises(ParameterError) as refused:
            run_stack_action(settings_of("dev"), "edge", "preview", log_level=level)
        assert refused.value.name == "log_level"
    sdk.stack.preview.assert_not_called()
