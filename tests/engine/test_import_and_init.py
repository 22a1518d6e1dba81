"""Resource import and stack init through the Automation API, against autospecs of the real pulumi.automation
classes; the refusal of an environment outside the fixed list; the params template."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import create_autospec

import pytest
from pulumi import automation as auto
from pulumi.automation._stack import ImportResult

from tradai_nb import environments
from tradai_nb.cli import main
from tradai_nb.engine import automation
from tradai_nb.errors import EXIT_INVALID, EXIT_PREREQUISITE, GuardError, SettingsError
from tradai_nb.records import audit
from tradai_nb.settings import HOME_ENV_VAR, PARAMS_DIR_ENV_VAR, load_settings

PASSPHRASE = "correct-horse-battery-staple-7f3a9c"
REAL_PULUMI_COMMAND = auto.PulumiCommand


@pytest.fixture
def sdk(monkeypatch, tmp_path):
    monkeypatch.setenv(HOME_ENV_VAR, str(tmp_path / ".tradai"))
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    stack = create_autospec(auto.Stack, instance=True)
    stack.workspace = create_autospec(auto.LocalWorkspace, instance=True)
    stack.import_resources.return_value = ImportResult("", "", auto.UpdateSummary(
        kind="import", start_time=None, message="", environment={}, config={}, result="succeeded",
        resource_changes={"import": 1}), generated_code="")
    mocks = SimpleNamespace(
        command_class=create_autospec(auto.PulumiCommand),
        create_or_select=create_autospec(auto.create_or_select_stack, return_value=stack),
        select=create_autospec(auto.select_stack, return_value=stack),
        create=create_autospec(auto.create_stack, return_value=stack),
        stack=stack,
    )
    monkeypatch.setattr(auto, "PulumiCommand", mocks.command_class)
    monkeypatch.setattr(auto, "create_or_select_stack", mocks.create_or_select)
    monkeypatch.setattr(auto, "select_stack", mocks.select)
    monkeypatch.setattr(auto, "create_stack", mocks.create)
    return mocks


def test_import_resource__passes_the_import_resource_to_stack_import_resources(sdk):
    result = automation.import_resource(load_settings("dev"), "compute", resource_type="aws:ecs:Service",
                                        name="backend-adopted",
                                        resource_id="arn:aws:ecs:eu-central-1:123456789012:service/tradai-dev/svc",
                                        on_output=lambda line: None)

    assert sdk.select.call_args.kwargs["stack_name"] == "organization/tradai-compute/dev"
    assert sdk.select.call_args.kwargs["opts"].secrets_provider == "passphrase"
    kwargs = sdk.stack.import_resources.call_args.kwargs
    assert kwargs["resources"] == [{"type": "aws:ecs/service:Service", "name": "backend-adopted",
                                    "id": "tradai-dev/svc"}]
    assert kwargs["protect"] is True and kwargs["name_table"] is None
    assert result.summary.to_dict("records") == [{"operation": "import", "count": 1}]
    assert result.changed_resources.iloc[0]["urn"] == \
        "urn:pulumi:dev::tradai-compute::aws:ecs/service:Service::backend-adopted"
    [started, succeeded] = audit.AuditStore.for_settings(load_settings("dev")).records()
    assert (started.action, started.status, succeeded.status) == ("stack.import-resource", "started", "succeeded")


def test_import_resource__names_a_parent_through_the_name_table(sdk):
    parent = "urn:pulumi:dev::tradai-persistent::pulumi:pulumi:Stack::tradai-persistent-dev"
    automation.import_resource(load_settings("dev"), "persistent", resource_type="aws:s3/bucketV2:BucketV2",
                               name="extra", resource_id="tradai-extra-dev", parent=parent,
                               on_output=lambda line: None)

    kwargs = sdk.stack.import_resources.call_args.kwargs
    assert kwargs["resources"][0]["parent"] == "parent" and kwargs["name_table"] == {"parent": parent}


def test_import_resource__in_prod_needs_confirm_and_touches_nothing_without_it(sdk):
    with pytest.raises(GuardError, match="confirm='prod'"):
        automation.import_resource(load_settings("prod"), "persistent", resource_type="aws:s3:Bucket", name="b",
                                   resource_id="tradai-b-prod")
    sdk.command_class.assert_not_called()
    sdk.stack.import_resources.assert_not_called()


def test_import_resource__without_the_cli_names_setup(sdk, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(auto, "PulumiCommand", create_autospec(REAL_PULUMI_COMMAND, side_effect=REAL_PULUMI_COMMAND))

    code = main(["stack", "import-resource", "--stack", "persistent", "--env", "dev", "--type", "aws:s3:Bucket",
                 "--name", "b", "--id", "tradai-b-dev", "--no-dry-run"])

    assert code == EXIT_PREREQUISITE and "tradai-nb setup" in capsys.readouterr().err
    sdk.stack.import_resources.assert_not_called()


def test_init__creates_the_missing_stacks_and_skips_those_that_exist(sdk, capsys):
    def select(**kwargs):
        if kwargs["stack_name"].startswith(("organization/tradai-compute/", "organization/tradai-edge/")):
            raise auto.StackNotFoundError(auto.CommandResult(stdout="", stderr="no stack named", code=255))
        return sdk.stack
    sdk.select.side_effect = select

    assert main(["stack", "init", "--env", "dev"]) == 0

    created = [c.kwargs["stack_name"] for c in sdk.create.call_args_list]
    assert created == ["organization/tradai-compute/dev", "organization/tradai-edge/dev"]
    assert {c.kwargs["project_name"] for c in sdk.select.call_args_list} == {
        "tradai-persistent", "tradai-foundation", "tradai-compute", "tradai-edge"}
    assert all(c.kwargs["opts"].secrets_provider == "passphrase" for c in sdk.create.call_args_list)
    out = capsys.readouterr().out
    table = out[out.index("stack init"):]
    assert [line.split()[-1] for line in table.splitlines()[2:]] == ["exists", "exists", "created", "created"]


def test_init__in_staging_needs_confirm(sdk, capsys):
    assert main(["stack", "init", "--env", "staging"]) == 10
    assert "--confirm staging" in capsys.readouterr().err
    sdk.select.assert_not_called()
    sdk.create.assert_not_called()


def test_init__of_an_environment_outside_the_list_says_why_and_how_to_add_one(sdk, capsys):
    assert main(["stack", "init", "--env", "qa"]) == EXIT_INVALID

    err = capsys.readouterr().err
    for needed in ("local, dev, staging, prod", "tradai_nb/config.py", "ENVIRONMENTS", "PROTECTED_ENVIRONMENTS",
                   "Settings.environment", "params/TEMPLATE.yaml", "params/qa.yaml", "tests/stacks/test_whole_estate.py",
                   "tests/safety/test_change_gate.py"):
        assert needed in err, needed
    sdk.command_class.assert_not_called()


def test_init__writes_a_missing_params_file_from_the_template_and_refuses_it_until_filled(sdk, monkeypatch,
                                                                                           tmp_path):
    monkeypatch.setenv(PARAMS_DIR_ENV_VAR, str(tmp_path / "params"))

    with pytest.raises(SettingsError) as unfilled:
        environments.prepare_params("dev")
    written = tmp_path / "params" / "dev.yaml"
    assert written.is_file() and "ENVIRONMENT_NAME" not in written.read_text()
    assert "aws_profile" in str(unfilled.value) and "alert_emails" in str(unfilled.value)

    written.write_text(written.read_text().replace("aws_profile: FILL-IN", "aws_profile: tradai")
                       .replace("[FILL-IN]", "[ops@tradai.io]"))
    settings, done = environments.prepare_params("dev")
    assert (done, settings.pulumi_backend_url, settings.aws_profile) == ("exists", "s3://tradai-pulumi-state-dev",
                                                                         "tradai")
    sdk.command_class.assert_not_called()


def test_template__is_not_an_environment_and_documents_every_key():
    with pytest.raises(SettingsError, match="unknown environment 'TEMPLATE'"):
        load_settings("TEMPLATE")
    from tradai_nb.settings import SETTINGS_FIELDS, read_params

    lines = environments.TEMPLATE_PATH.read_text().splitlines()
    keys = list(read_params(environments.TEMPLATE_PATH))
    assert keys == list(SETTINGS_FIELDS)
    for key in keys:
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
        assert lines[index - 1].startswith("#"), key
