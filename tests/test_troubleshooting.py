"""The troubleshooting catalogue: each known error is found from its own text, the error mapping speaks its fix and
runbook, and `tradai-nb troubleshoot` reports it (exit codes, --json, secrets never echoed)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import create_autospec

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, TokenRetrievalError
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from tradai_nb import troubleshooting
from tradai_nb.aws import aws_errors
from tradai_nb.cli import build_parser, main
from tradai_nb.engine import automation
from tradai_nb.errors import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    AutomationError,
    AwsAccessError,
    CredentialsMissingError,
    OperationError,
    StackLockedError,
    StackNotDeployedError,
    StackProgramError,
)
from tradai_nb.settings import HOME_ENV_VAR, PROJECT_ROOT, load_settings

ENTRIES = troubleshooting.ENTRIES
IDS = [e.id for e in ENTRIES]
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PASSPHRASE = "correct-horse-battery-staple-7f3a9c"


# --- the catalogue --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_each_sample__finds_its_own_entry_first(entry):
    found = troubleshooting.find(entry.sample)

    assert found and found[0].entry is entry, [m.entry.id for m in found]
    assert found[0].excerpts and all(len(e) < len(entry.sample) + 3 for e in found[0].excerpts)


def test_catalogue__ids_are_unique_and_every_entry_is_complete():
    assert len(set(IDS)) == len(IDS)
    for entry in ENTRIES:
        assert entry.title and entry.patterns and entry.cause and entry.fix and entry.sample, entry.id


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_each_runbook__is_a_runbook_notebook_or_a_tradai_nb_command(entry):
    commands = set(build_parser()._subparsers._group_actions[0].choices)
    if entry.runbook.startswith("notebooks/"):
        assert entry.runbook.startswith("notebooks/runbooks/") and (PROJECT_ROOT / entry.runbook).is_file()
    else:
        program, command, *_ = entry.runbook.split()
        assert program == "tradai-nb" and command in commands, entry.runbook


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_each_fix__names_something_to_run(entry):
    assert any(word in entry.fix for word in ("`tradai-nb ", "`just ", "`aws ", "`pulumi ", "action=", "action='",
                                                "--env", "export ", "params/")), entry.fix


@pytest.mark.parametrize(("guide_text", "entry_id"), [
    ("error: no Pulumi.yaml", "no-project-file"),
    ("error: stack 'dev' not found", "stack-not-found"),
    ("error: passphrase must be set", "passphrase-missing"),
    ("error: unable to deserialize", "state-corrupt"),
    ("error: resource already exists", "resource-already-exists"),
], ids=lambda value: value if value in IDS else "")
def test_the_guides_troubleshooting_rows__are_each_recognised(guide_text, entry_id):
    assert troubleshooting.best(guide_text).id == entry_id


def test_wrong_passphrase_inside_a_deserialize_error__is_the_passphrase_not_corrupt_state():
    text = "error: could not deserialize deployment: failed to decrypt: incorrect passphrase, please set " \
           "PULUMI_CONFIG_PASSPHRASE to the correct passphrase"

    assert [m.entry.id for m in troubleshooting.find(text)] == ["passphrase-incorrect", "state-corrupt"]


def test_ec2_request_limit__is_throttling_not_a_quota():
    text = "An error occurred (RequestLimitExceeded) when calling the DescribeInstances operation: Request limit " \
           "exceeded."

    assert troubleshooting.best(text).id == "throttling"


def test_fallbacks__only_when_nothing_specific_matches():
    specific = "error: update failed\n  error: 1 error occurred: AccessDenied: not allowed"

    assert "pulumi-command-failed" not in [m.entry.id for m in troubleshooting.find(specific)]
    assert troubleshooting.best("error: update failed").id == "pulumi-command-failed"
    assert troubleshooting.find("all is well") == []


def test_fix_placeholders__are_filled_only_with_known_names():
    locked = troubleshooting.entry("stack-locked")

    assert "--stack compute --env prod --confirm prod" in locked.fix_for(stack="compute", env="prod")
    assert "<stack>" in locked.fix_for(stack=None)
    with pytest.raises(ValueError, match="unknown placeholder"):
        locked.fix_for(stak="compute")


def test_excerpts__never_show_a_pasted_secret(monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    text = (f"PULUMI_CONFIG_PASSPHRASE={PASSPHRASE} aws_secret_access_key = {SECRET_KEY} "
            "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE")

    shown = json.dumps([m.as_dict() for m in troubleshooting.find(text)])

    assert "passphrase-missing" in shown and "[redacted]" in shown
    assert PASSPHRASE not in shown and SECRET_KEY not in shown


@pytest.mark.parametrize("bad", [None, 42, "x" * (troubleshooting.MAX_ERROR_TEXT_CHARS + 1)],
                         ids=["none", "number", "oversized"])
def test_check_parameters__refuses_what_is_not_an_error_text_naming_error_text(bad):
    from tradai_nb.errors import ParameterError

    with pytest.raises(ParameterError) as refused:
        troubleshooting.check_parameters(error_text=bad)
    assert refused.value.name == "error_text" and "'error_text'" in str(refused.value)


def test_diagnosis_table__is_the_matches_or_else_the_whole_catalogue():
    assert len(troubleshooting.diagnosis_table("")) == len(ENTRIES)
    assert len(troubleshooting.diagnosis_table("nothing known here")) == len(ENTRIES)
    table = troubleshooting.diagnosis_table(troubleshooting.entry("stack-locked").sample)
    assert table.loc[0, "id"] == "stack-locked" and "locked by 1 lock(s)" in table.loc[0, "matched"]


# --- the error mapping speaks the catalogue -------------------------------------------------------------------------

def _says(message: str, entry_id: str, **names: str | None) -> bool:
    entry = troubleshooting.entry(entry_id)
    return entry.fix_for(**names) in message and entry.runbook_for(**names) in message


@pytest.fixture
def failing_stack(monkeypatch, tmp_path):
    """The Automation API entry points as autospecs of the real ones; `fail(error)` makes selecting the stack raise."""
    monkeypatch.setenv(HOME_ENV_VAR, str(tmp_path / ".tradai"))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    select = create_autospec(auto.select_stack)
    monkeypatch.setattr(auto, "PulumiCommand", create_autospec(auto.PulumiCommand))
    monkeypatch.setattr(auto, "LocalWorkspace", create_autospec(auto.LocalWorkspace))
    monkeypatch.setattr(auto, "select_stack", select)
    return SimpleNamespace(fail=lambda error: setattr(select, "side_effect", error))


def _pulumi_failure(stderr: str, stdout: str = "") -> auto.CommandError:
    return create_command_error(auto.CommandResult(stdout=stdout, stderr=stderr, code=255))


@pytest.mark.parametrize(("entry_id", "stdout", "raised"), [
    ("stack-locked", "", StackLockedError),
    ("stack-not-found", "", StackNotDeployedError),
    ("stack-program-failed", "Program failed with an unhandled exception", StackProgramError),
    ("resource-already-exists", "", AutomationError),
    ("passphrase-incorrect", "", AutomationError),
    ("state-corrupt", "", AutomationError),
    ("no-credentials", "", AutomationError),
    ("expired-token", "", AutomationError),
    ("quota-exceeded", "", AutomationError),
    ("image-not-found", "", AutomationError),
    ("pulumi-command-failed", "", AutomationError),
])
def test_pulumi_failure__names_the_catalogues_fix_and_runbook(failing_stack, entry_id, stdout, raised):
    failing_stack.fail(_pulumi_failure(troubleshooting.entry(entry_id).sample, stdout))

    with pytest.raises(raised) as caught:
        automation.outputs(load_settings("dev"), "compute", on_output=lambda line: None)

    assert type(caught.value) is raised
    assert _says(str(caught.value), entry_id, stack="compute", env="dev", action="outputs",
                 profile=load_settings("dev").aws_profile), str(caught.value)


def test_resource_already_exists__points_at_import_resource_and_pulumi_import(failing_stack):
    failing_stack.fail(_pulumi_failure(troubleshooting.entry("resource-already-exists").sample))

    with pytest.raises(AutomationError) as caught:
        automation.outputs(load_settings("dev"), "compute", on_output=lambda line: None)

    assert "tradai-nb stack import-resource --stack compute --env dev" in str(caught.value)
    assert "`pulumi import " in str(caught.value) and "RepositoryAlreadyExistsException" in str(caught.value)


def test_resource_already_exists_that_the_sdk_takes_for_a_stack__is_still_the_resource(failing_stack):
    failure = _pulumi_failure("error: creating CloudWatch Logs Log Group (/tradai/stack-events/dev): "
                              "ResourceAlreadyExistsException: The specified log group already exists")
    assert isinstance(failure, auto.StackAlreadyExistsError)
    failing_stack.fail(failure)

    with pytest.raises(AutomationError) as caught:
        automation.outputs(load_settings("dev"), "compute", on_output=lambda line: None)

    assert _says(str(caught.value), "resource-already-exists", stack="compute", env="dev")
    assert "someone else" not in str(caught.value)


def test_stack_created_meanwhile__says_to_run_the_action_again(failing_stack):
    failing_stack.fail(_pulumi_failure(troubleshooting.entry("stack-already-exists").sample))

    with pytest.raises(AutomationError, match="run action='outputs' again"):
        automation.outputs(load_settings("dev"), "compute", on_output=lambda line: None)


def _client_error(code: str, message: str, operation: str = "DescribeServices") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                       operation)


@pytest.mark.parametrize(("error", "raised", "entry_id"), [
    (_client_error("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/ro/ana is not authorized"),
     AwsAccessError, "access-denied"),
    (_client_error("ExpiredTokenException", "The security token included in the request is expired"),
     AwsAccessError, "expired-token"),
    (_client_error("ServiceNotFoundException", "Service not found."), OperationError, "aws-not-found"),
    (_client_error("ThrottlingException", "Rate exceeded"), OperationError, "throttling"),
    (_client_error("AddressLimitExceeded", "The maximum number of addresses has been reached.", "AllocateAddress"),
     OperationError, "quota-exceeded"),
    (_client_error("TargetNotConnected", "i-0a1b2c3d4e5f67890 is not connected.", "StartSession"),
     OperationError, "ssm-agent"),
    (_client_error("InvalidParameterException", "TaskDefinition is inactive", "UpdateService"),
     OperationError, "aws-call-failed"),
    (NoCredentialsError(), CredentialsMissingError, "no-credentials"),
    (TokenRetrievalError(provider="sso", error_msg="Token has expired and refresh failed"),
     CredentialsMissingError, "expired-token"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/"), AwsAccessError, "endpoint-unreachable"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_aws_failure__names_the_catalogues_fix_and_runbook(error, raised, entry_id):
    with pytest.raises(raised) as caught, aws_errors("describing services in cluster tradai-dev"):
        raise error

    message = str(caught.value)
    assert type(caught.value) is raised and message.startswith("describing services in cluster tradai-dev")
    assert _says(message, entry_id), message
    # What tradai-nb printed, pasted back, is the same known error.
    assert troubleshooting.best(message).id == entry_id


# --- tradai-nb troubleshoot -----------------------------------------------------------------------------------------

LOCKED = troubleshooting.entry("stack-locked").sample


def test_cli__a_known_error_exits_0_with_its_fix_and_runbook(capsys):
    assert main(["troubleshoot", LOCKED]) == EXIT_OK

    out = capsys.readouterr().out
    assert out.startswith("Stack locked by another update [stack-locked]")
    assert troubleshooting.entry("stack-locked").fix in out and "notebooks/runbooks/state_locks.ipynb" in out


def test_cli__json_lists_the_matches_best_first(capsys):
    text = "error: could not deserialize deployment: failed to decrypt: incorrect passphrase"
    assert main(["troubleshoot", text, "--json"]) == EXIT_OK

    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["matches"]
    assert [m["id"] for m in document["matches"]] == ["passphrase-incorrect", "state-corrupt"]
    assert set(document["matches"][0]) == {"id", "title", "matched", "cause", "fix", "runbook"}


def test_cli__an_unknown_text_exits_1_listing_the_catalogue(capsys):
    assert main(["troubleshoot", "the coffee machine is empty"]) == EXIT_FAILED

    out = capsys.readouterr().out
    assert all(entry.title in out for entry in ENTRIES)


def test_cli__an_unknown_text_as_json_carries_the_catalogue(capsys):
    assert main(["troubleshoot", "the coffee machine is empty", "--json"]) == EXIT_FAILED

    document = json.loads(capsys.readouterr().out)
    assert document["matches"] == [] and [e["id"] for e in document["catalogue"]] == IDS


def test_cli__dash_reads_the_text_from_stdin(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(troubleshooting.entry("quota-exceeded").sample))

    assert main(["troubleshoot", "-", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["matches"][0]["id"] == "quota-exceeded"


@pytest.mark.parametrize(("argument", "stdin"), [
    ("", ""), ("   \n", ""), ("-", "\n\n"), ("x" * (troubleshooting.MAX_ERROR_TEXT_CHARS + 1), ""),
    ("-", "y" * (troubleshooting.MAX_ERROR_TEXT_CHARS + 5)),
], ids=["empty", "blank", "empty-stdin", "oversized", "oversized-stdin"])
def test_cli__bad_input_is_refused_naming_the_argument(capsys, monkeypatch, argument, stdin):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))

    assert main(["troubleshoot", argument]) == EXIT_INVALID
    captured = capsys.readouterr()
    assert captured.out == "" and "ERROR_TEXT" in captured.err


def test_cli__never_echoes_a_secret_it_was_given(capsys, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    text = f"export PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}\nAWS_SECRET_ACCESS_KEY={SECRET_KEY}\nerror: incorrect passphrase"

    for extra in ([], ["--json"]):
        assert main(["troubleshoot", text, *extra]) == EXIT_OK
        captured = capsys.readouterr()
        assert "passphrase-incorrect" in captured.out
        assert PASSPHRASE not in captured.out + captured.err and SECRET_KEY not in captured.out + captured.err


def test_cli__is_registered_and_imports_nothing_heavy_at_help():
    assert "troubleshoot" in Path(PROJECT_ROOT / "tradai_nb" / "cli.py").read_text(encoding="utf-8")
    import subprocess
    import sys

    probe = ("import sys; from tradai_nb.cli import main\n"
             "try:\n    main(['troubleshoot', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pulumi', 'pandas', 'boto3') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
