"""Stack actions as notebooks and the command line run them: guards first, then the offline plan or the Automation API."""

from __future__ import annotations

import inspect
import json
import urllib.error
from types import SimpleNamespace
from unittest.mock import create_autospec

import pytest
from pulumi import automation as auto

from tradai_nb import cli
from tradai_nb.actions import ACTIONS, run_stack_action
from tradai_nb.engine import automation
from tradai_nb.errors import EXIT_PREREQUISITE, EXIT_REFUSED, GuardError, ParameterError, PulumiCliMissingError
from tradai_nb.state.sealing import secrets_provider_state

PASSPHRASE = "tr0ub4dor-and-3-9d1e"
REAL_PULUMI_COMMAND = auto.PulumiCommand


def exported(project: str = "tradai-compute", environment: str = "dev") -> dict:
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "abc", "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase",
                                  "state": secrets_provider_state(environment, project, passphrase=PASSPHRASE)},
            "resources": [{"urn": f"urn:pulumi:{environment}::{project}::aws:ecs/cluster:Cluster::cluster",
                           "type": "aws:ecs/cluster:Cluster", "custom": True, "id": "tradai-dev"}],
        },
    }


@pytest.fixture
def sdk(monkeypatch, tmp_path):
    """pulumi.automation's entry points as autospecs of the real ones; the passphrase only in the environment."""
    monkeypatch.setattr(automation, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    stack = create_autospec(auto.Stack, instance=True)
    stack.workspace = create_autospec(auto.LocalWorkspace, instance=True)
    stack.preview.return_value = auto.PreviewResult("", "", {auto.OpType.CREATE: 2})
    stack.outputs.return_value = {"cluster_name": auto.OutputValue("tradai-dev", secret=False)}
    command_class = create_autospec(auto.PulumiCommand)
    command_class.return_value.run.return_value = auto.CommandResult(stdout=json.dumps(exported()), stderr="", code=0)
    mocks = SimpleNamespace(
        command_class=command_class,
        command=command_class.return_value,
        create_or_select=create_autospec(auto.create_or_select_stack, return_value=stack),
        select=create_autospec(auto.select_stack, return_value=stack),
        local_workspace=create_autospec(auto.LocalWorkspace),
        stack=stack,
    )
    monkeypatch.setattr(auto, "PulumiCommand", command_class)
    monkeypatch.setattr(auto, "create_or_select_stack", mocks.create_or_select)
    monkeypatch.setattr(auto, "select_stack", mocks.select)
    monkeypatch.setattr(auto, "LocalWorkspace", mocks.local_workspace)
    return mocks


def assert_untouched(sdk) -> None:
    for entry in (sdk.command_class, sdk.command_class.install, sdk.create_or_select, sdk.select, sdk.local_workspace):
        entry.assert_not_called()
    assert sdk.stack.mock_calls == [] and sdk.stack.workspace.mock_calls == []


@pytest.mark.parametrize(
    ("environment", "stack", "action", "kwargs", "error"),
    [
        ("prod", "compute", "up", {}, GuardError),
        ("staging", "edge", "destroy", {"confirm": "prod"}, GuardError),
        ("prod", "compute", "cancel", {}, GuardError),
        ("dev", "persistent", "destroy", {"allow_destroy": True}, GuardError),
        ("dev", "foundation", "destroy", {}, GuardError),
        ("dev", "network", "up", {}, ParameterError),
        ("dev", "compute", "deploy", {}, ParameterError),
        ("dev", "compute", "import", {}, ParameterError),
        ("dev", "compute", "up", {"state_file": "state.json"}, ParameterError),
    ],
    ids=["prod-up-unconfirmed", "staging-destroy-wrong-confirm", "prod-cancel-unconfirmed", "persistent-destroy",
         "foundation-destroy-unallowed", "unknown-stack", "unknown-action", "import-without-file", "file-with-up"],
)
def test_refused_action__makes_no_automation_api_call(sdk, settings_of, environment, stack, action, kwargs, error):
    with pytest.raises(error):
        run_stack_action(settings_of(environment), stack, action, on_output=lambda line: None, **kwargs)
    assert_untouched(sdk)


def test_plan__runs_offline_without_the_pulumi_cli(sdk, settings_of, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run_stack_action(settings_of("dev"), "foundation", "plan")
    assert isinstance(result, automation.AutomationResult) and result.plan is not None
    assert result.plan.stack("foundation").name == "foundation"
    assert "vpc_id" in set(result.outputs["key"])
    assert_untouched(sdk)


def test_cli_action_without_the_pulumi_cli__fails_naming_setup_and_plan(sdk, settings_of, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(auto, "PulumiCommand", create_autospec(REAL_PULUMI_COMMAND, side_effect=REAL_PULUMI_COMMAND))
    with pytest.raises(PulumiCliMissingError) as caught:
        run_stack_action(settings_of("dev"), "compute", "preview")
    assert "tradai-nb setup" in str(caught.value) and "action=plan" in str(caught.value)
    sdk.create_or_select.assert_not_called()
    sdk.select.assert_not_called()


def test_confirmed_prod_up__reaches_the_automation_api(sdk, settings_of):
    sdk.stack.up.return_value = auto.UpResult("", "", auto.UpdateSummary(
        kind="update", start_time=None, message="", environment={}, config={}, result="succeeded",
        resource_changes={"update": 1}), {"cluster_name": auto.OutputValue("tradai-prod", secret=False)})
    result = run_stack_action(settings_of("prod"), "edge", "up", confirm="prod", on_output=lambda line: None)
    assert sdk.create_or_select.call_args.kwargs["stack_name"] == "organization/tradai-edge/prod"
    assert (result.environment, result.stack, result.action) == ("prod", "edge", "up")
    assert result.summary.to_dict("records") == [{"operation": "update", "count": 1}]
    assert result.outputs.loc[0, "value"] == "tradai-prod"


def test_preview__streams_engine_output_to_on_output(sdk, settings_of):
    lines: list[str] = []
    preview = sdk.stack.preview.return_value

    def engine_streams(*args, **kwargs):
        kwargs["on_output"]("~ aws:apigatewayv2/api:Api api update")
        return preview

    sdk.stack.preview.side_effect = engine_streams
    run_stack_action(settings_of("dev"), "edge", "preview", on_output=lines.append)
    assert lines[0].startswith("policy check of edge in dev") and "0 mandatory" in lines[0]
    assert lines[1:] == ["~ aws:apigatewayv2/api:Api api update"]


def test_export__returns_the_deployment(sdk, settings_of):
    result = run_stack_action(settings_of("dev"), "compute", "export")
    assert result.deployment == exported()
    assert result.summary.to_dict("records") == [{"type": "aws:ecs/cluster:Cluster", "count": 1}]


def test_import__imports_the_state_file(sdk, settings_of, tmp_path):
    state_file = tmp_path / "compute-dev.json"
    state_file.write_text(json.dumps(exported()))
    run_stack_action(settings_of("dev"), "compute", "import", state_file=state_file, on_output=lambda line: None)
    (state,), _ = sdk.stack.import_stack.call_args
    assert state.deployment == exported()["deployment"]


def test_signature__stays_what_the_notebooks_call():
    parameters = inspect.signature(run_stack_action).parameters
    assert list(parameters) == ["settings", "stack", "action", "confirm", "allow_destroy", "on_output", "state_file",
                                "on_progress", "log_level", "debug", "log_flow", "trace_file", "checks"]
    assert [parameters[n].default for n in ("confirm", "allow_destroy", "on_output", "state_file", "on_progress")] == [
        "", False, print, None, None]
    assert all(parameters[n].kind is inspect.Parameter.KEYWORD_ONLY for n in list(parameters)[3:])
    assert ACTIONS[0] == "plan"


def test_passphrase__cannot_be_passed_as_a_parameter(sdk, settings_of):
    with pytest.raises(TypeError):
        run_stack_action(settings_of("dev"), "compute", "preview", passphrase=PASSPHRASE)  # type: ignore[call-arg]
    assert_untouched(sdk)


# --- the command line -----------------------------------------------------------------------------------------------

def test_cli_stack_up_in_prod_without_confirm__is_refused(sdk, capsys):
    assert cli.main(["stack", "up", "--stack", "compute", "--env", "prod"]) == EXIT_REFUSED
    assert "--confirm prod" in capsys.readouterr().err
    assert_untouched(sdk)


def test_cli_stack_plan__prints_the_summary(sdk, capsys):
    assert cli.main(["stack", "plan", "--stack", "persistent", "--env", "local"]) == 0
    out = capsys.readouterr().out
    assert "persistent (local): plan" in out and "state_bucket_name" in out
    assert_untouched(sdk)


def test_cli_stack_export_with_file__writes_the_deployment(sdk, tmp_path, capsys):
    target = tmp_path / "backup.json"
    assert cli.main(["stack", "export", "--stack", "compute", "--env", "dev", "--file", str(target)]) == 0
    assert json.loads(target.read_text()) == exported()
    assert str(target) in capsys.readouterr().err


def test_cli_stack_import__reads_the_file(sdk, tmp_path):
    state_file = tmp_path / "compute-dev.json"
    state_file.write_text(json.dumps(exported()))
    assert cli.main(["stack", "import", "--stack", "compute", "--env", "dev", "--file", str(state_file)]) == 0
    assert sdk.stack.import_stack.call_args.args[0].deployment == exported()["deployment"]


def test_cli_setup_without_network__says_why(sdk, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    missing = FileNotFoundError(2, "No such file or directory", "pulumi")
    sdk.command_class.side_effect = [missing, missing]
    sdk.command_class.install.side_effect = urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    assert cli.main(["setup"]) == EXIT_PREREQUISITE
    err = capsys.readouterr().err
    assert "Temporary failure in name resolution" in err and automation.INSTALL_DOCS_URL in err
