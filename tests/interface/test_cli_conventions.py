"""The command line's conventions: --version, --json on listings and status, state reads without the Pulumi CLI,
parameter files for runs, the prerequisites check, and a fast start."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from tradai_nb import __version__
from tradai_nb.aws import session_for
from tradai_nb.cli import main
from tradai_nb.errors import EXIT_INVALID, EXIT_OK, EXIT_PREREQUISITE, PassphraseMissingError
from tradai_nb.ops.outputs import output_values
from tradai_nb.records import audit
from tradai_nb.settings import PROJECT_ROOT, load_settings
from tradai_nb.state import backend, sealing

pytestmark = pytest.mark.sandbox


@pytest.fixture
def audit_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    return tmp_path / "runs"


def _json(capsys):
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv", [["--version"], ["--help"]], ids=["version", "help"])
def test_version_and_help__answer_without_importing_pulumi_or_pandas(argv):
    probe = ("import sys\nfrom tradai_nb.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pulumi', 'pandas', 'boto3') if m in sys.modules))" % argv)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)

    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout
    if argv == ["--version"]:
        assert f"tradai-nb {__version__}" in done.stdout


def test_stack_output__prints_json_or_one_bare_value_from_the_checkpoint(sandbox, monkeypatch, capsys):
    monkeypatch.setenv("TRADAI_ENV", "local")
    assert main(["stack", "output", "--stack", "compute", "--env", "local"]) == EXIT_OK
    outputs = _json(capsys)
    assert outputs["ecs_cluster_name"] == "tradai-local"

    assert main(["stack", "output", "alb_dns_name", "--stack", "compute", "--env", "local"]) == EXIT_OK
    assert capsys.readouterr().out == outputs["alb_dns_name"] + "\n"
    assert main(["stack", "output", "nope", "--stack", "compute", "--env", "local"]) == EXIT_INVALID
    assert "ecs_cluster_name" in capsys.readouterr().err
    assert main(["stack", "output", "--env", "local"]) == EXIT_INVALID


def test_stack_ls_and_history__read_the_backend_as_json(sandbox, capsys):
    assert main(["stack", "ls", "--env", "local", "--json"]) == EXIT_OK
    listed = _json(capsys)
    assert [row["stack"] for row in listed] == ["persistent", "foundation", "compute", "edge"]
    assert all(row["resources"] > 0 for row in listed)

    assert main(["stack", "history", "--stack", "edge", "--env", "local", "--json"]) == EXIT_OK
    [update] = _json(capsys)
    assert (update["kind"], update["result"]) == ("update", "succeeded") and update["resource_changes"]


def test_stack_output__secrets_are_masked_unless_shown_with_the_passphrase(tmp_path, monkeypatch):
    passphrase = "output-test-passphrase-31"
    settings = load_settings("dev", {"pulumi_backend_url": f"file://{tmp_path / 'state'}"})
    project = "tradai-edge"
    provider = sealing.secrets_provider_state("dev", project, passphrase=passphrase)
    root = {"urn": f"urn:pulumi:dev::{project}::pulumi:pulumi:Stack::{project}-dev", "type": "pulumi:pulumi:Stack",
            "custom": False, "outputs": {"api_url": "https://api",
                                         "api_key": sealing.encrypt_secret("k-123", provider, passphrase)}}
    deployment = {"manifest": {"time": "2026-01-01T00:00:00Z", "magic": "m", "version": "v3.272.0"},
                  "secrets_providers": {"type": "passphrase", "state": provider}, "resources": [root]}
    store = backend.state_store_for(settings, None)
    store.write_checkpoint(backend.stack_ref("edge", "dev"), deployment)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)

    assert output_values(None, settings, "edge") == {"api_key": "[secret]", "api_url": "https://api"}
    with pytest.raises(PassphraseMissingError):
        output_values(None, settings, "edge", show_secrets=True)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", passphrase)
    assert output_values(None, settings, "edge", show_secrets=True)["api_key"] == "k-123"


def test_stack_export_and_resources__read_the_checkpoint_without_the_cli(sandbox, tmp_path, capsys):
    settings = load_settings("local")
    store = backend.state_store_for(settings, session_for(settings))
    deployed = store.read_deployment(backend.stack_ref("compute", "local"))
    target = tmp_path / "compute-local.json"

    assert main(["stack", "export", "--stack", "compute", "--env", "local", "--file", str(target)]) == EXIT_OK
    assert json.loads(target.read_text()) == deployed
    assert str(target) in capsys.readouterr().err
    assert main(["stack", "export", "--stack", "compute", "--env", "local"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == deployed
    assert main(["stack", "export", "--stack", "compute", "--env", "local", "--file", str(tmp_path)]) == EXIT_INVALID
    assert "is a folder" in capsys.readouterr().err

    assert main(["stack", "resources", "--stack", "compute", "--env", "local", "--json"]) == EXIT_OK
    listed = _json(capsys)
    assert [row["urn"] for row in listed] == [r["urn"] for r in deployed["deployment"]["resources"]]
    cluster = next(row for row in listed if row["type"] == "aws:ecs/cluster:Cluster")
    assert cluster["urn"].endswith("::" + cluster["name"]) and cluster["id"]


def test_run__takes_a_parameters_file_overridden_by_p_and_prints_its_record_as_json(sandbox, audit_dir, tmp_path,
                                                                                   capsys):
    parameters = tmp_path / "status.yaml"
    parameters.write_text("action: status\nservice: mlflow\ntimeout_s: 30\n")

    code = main(["run", "notebooks/runbooks/ecs_operations.ipynb", "--env", "local", "-f", str(parameters),
                 "-p", "service=backend", "--json"])

    record = _json(capsys)
    assert code == EXIT_OK and record["status"] == "succeeded"
    assert (record["parameters"]["service"], record["parameters"]["timeout_s"]) == ("backend", 30)


def test_run__a_params_file_of_the_environment_is_a_parameters_file_too(sandbox, audit_dir, capsys):
    assert main(["run", "notebooks/stacks/edge.ipynb", "--env", "dev", "-f", "params/dev.yaml", "--json"]) == EXIT_OK
    assert _json(capsys)["parameters"] == {"environment": "dev"}


def test_run__a_parameters_file_with_an_alias_is_refused_naming_it(audit_dir, tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x]\nb: *a\n")

    assert main(["run", "notebooks/stacks/edge.ipynb", "--env", "dev", "-f", str(bomb)]) == EXIT_INVALID
    assert "-f" in capsys.readouterr().err


def test_listings__sandbox_status_and_audit_list_as_json(sandbox, audit_dir, capsys):
    assert main(["sandbox", "status", "--json"]) == EXIT_OK
    status = _json(capsys)
    assert status["answering"] and status["process"]["port"] == sandbox.process.port
    assert {row["kind"] for row in status["estate"]} >= {"s3 bucket", "ecs service"}

    entry = {"id": "20260101T000000Z-x-abcdef", "kind": "change", "status": "refused", "origin": "python",
             "action": "stack.up", "target": "edge", "environment": "dev", "operator": "ana", "host": "h",
             "git_commit": None, "git_dirty": None, "notebook": None, "parameters": {}, "start":
             audit.timestamp(datetime(2026, 1, 1, tzinfo=UTC)), "end": None, "duration_s": 0.0, "stage": None,
             "error": {"ename": "GuardError", "evalue": "no", "cell": None}, "parent": None}
    audit.AuditStore(audit_dir).append(entry)
    assert main(["audit", "list", "--json"]) == EXIT_OK
    [listed] = _json(capsys)
    assert (listed["id"], listed["origin"], listed["status"], listed["lines"]) == (entry["id"], "python", "refused",
                                                                                  [1])
    assert main(["audit", "show", entry["id"][:20], "--json"]) == EXIT_OK
    [shown] = _json(capsys)
    assert (shown["id"], shown["status"], shown["error"]["ename"], shown["stored_notebook"]) == \
        (entry["id"], "refused", "GuardError", None)


def test_doctor__lists_every_prerequisite_with_the_fix_of_each_missing_one(sandbox, monkeypatch, capsys):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)

    code = main(["doctor", "--json"])

    checks = {c["check"]: c for c in _json(capsys)}
    assert set(checks) == {"python", "pulumi cli", "aws plugin", "credentials dev", "credentials staging",
                           "credentials prod", "passphrase", "just", "docker", "sandbox"}
    assert checks["python"]["ok"] and not checks["passphrase"]["ok"]
    assert all(c["fix"] for c in checks.values() if not c["ok"])
    assert code == EXIT_PREREQUISITE

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "long-enough-passphrase")
    assert main(["doctor", "--json"]) in (EXIT_OK, EXIT_PREREQUISITE)
    assert {c["check"]: c["ok"] for c in _json(capsys)}["passphrase"] is True
