"""run_notebook: parameters checked before any kernel starts, every run (refused, failed, succeeded) recorded."""

from __future__ import annotations

import json

import papermill.execute
import pytest

from tradai_nb.records import audit
from tradai_nb.runner import STACK_NOTEBOOKS_DIR, run_notebook
from tradai_nb.settings import PROJECT_ROOT


@pytest.fixture
def kernel_runs(monkeypatch):
    """Every notebook papermill hands to its engine (the step that starts a kernel), recorded and passed through."""
    calls = []
    original = papermill.execute.papermill_engines.execute_notebook_with_engine

    def recording(engine_name, nb, *args, **kwargs):
        calls.append(kwargs.get("input_path"))
        return original(engine_name, nb, *args, **kwargs)

    monkeypatch.setattr(papermill.execute.papermill_engines, "execute_notebook_with_engine", recording)
    return calls


def _notebook_of(audit_dir, record) -> dict:
    return json.loads((audit_dir / record.notebook_file).read_text())


def _output_text(notebook: dict) -> str:
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            parts.append("".join(output.get("data", {}).get("text/plain", "")))
            parts.append(output.get("evalue", ""))
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("parameters", "named", "says"),
    [
        ({"target": "x", "colour": "red"}, "colour", "unknown"),
        ({"target": "x", "count": "three"}, "count", "expected an int"),
        ({"target": "x", "count": "1.5"}, "count", "expected an int"),
        ({"target": "x", "ratio": "half"}, "ratio", "expected a float"),
        ({"target": "x", "verbose": "maybe"}, "verbose", "expected a bool"),
        ({"target": "x", "label": 7}, "label", "expected a string"),
        ({}, "target", "required"),
        ({"target": ""}, "target", "required"),
        ({"target": "x", "environment": "prod"}, "environment", "--env"),
        ({"target": "x", "log_retention_days": "8"}, "log_retention_days", "retention"),
        ({"target": "x", "audit_upload": "false"}, "audit_upload", "params/dev.yaml"),
    ],
    ids=["unknown-name", "int-from-word", "int-from-decimal", "float-from-word", "bool-from-word", "str-from-int",
         "missing-required", "empty-required", "environment-mismatch", "invalid-setting", "audit-setting"],
)
def test_run__refuses_bad_parameters_before_any_kernel_starts_and_records_it(
        probe_notebook, audit_dir, kernel_runs, parameters, named, says):
    record = run_notebook(probe_notebook, "dev", parameters)

    assert kernel_runs == []
    assert record.status == "refused"
    assert record.error["ename"] == "ParameterError"
    assert f"'{named}'" in record.error["evalue"] and says in record.error["evalue"]
    stored = _notebook_of(audit_dir, record)
    assert all(cell.get("outputs", []) == [] for cell in stored["cells"])
    injected = [c for c in stored["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1
    assert "".join(injected[0]["source"]).splitlines()[1:] == [f"{k} = {v!r}".replace("'", '"')
                                                               for k, v in {"environment": "dev", **parameters}.items()]
    assert [e.id for e in audit.entries(audit.read_records(audit_dir))] == [record.id]
    assert audit.local_problems(audit.AuditStore(audit_dir))[1] == []


def test_run__converts_cli_strings_to_the_types_of_the_defaults(probe_notebook, audit_dir, kernel_runs):
    record = run_notebook(probe_notebook, "dev", {"target": "t1", "count": "3", "ratio": "2", "verbose": "true",
                                                 "log_retention_days": "14"}, progress_bar=False)

    assert record.status == "succeeded", record.error
    assert len(kernel_runs) == 1
    printed = _output_text(_notebook_of(audit_dir, record))
    assert "types int float bool 3 2.0 True" in printed
    assert "retention 14" in printed
    assert record.parameters == {"environment": "dev", "target": "t1", "count": 3, "ratio": 2.0, "verbose": True,
                                 "log_retention_days": 14}


def test_run__stack_notebook_in_dev_is_recorded_and_a_failed_upload_is_said(audit_dir, capfd):
    record = run_notebook(STACK_NOTEBOOKS_DIR / "foundation.ipynb", "dev", {"action": "plan"}, progress_bar=False)

    assert record.status == "succeeded", record.error
    assert (record.kind, record.origin, record.stage) == ("run", "run", "finished")
    assert record.notebook == "notebooks/stacks/foundation.ipynb"
    assert record.environment == "dev" and record.parameters == {"environment": "dev", "action": "plan"}
    warning = capfd.readouterr().err
    assert warning.count("upload to s3://tradai-logs-dev failed") == 1 and "aws_profile" in warning
    stored = audit_dir / record.notebook_file
    assert stored.parent == audit_dir / "dev" / record.start[:10]
    assert stored.name == f"{record.id}.succeeded.ipynb"
    assert record.id.startswith(f"{record.start[:19].replace('-', '').replace(':', '')}Z-foundation-")
    assert "vpc_id" in _output_text(json.loads(stored.read_text()))
    assert audit.local_problems(audit.AuditStore(audit_dir))[1] == []


def test_run__local_run_uploads_the_notebook_and_the_record_to_the_logs_bucket(probe_notebook, audit_dir, local_logs_bucket):
    from tradai_nb.aws import session_for
    from tradai_nb.settings import load_settings

    record = run_notebook(probe_notebook, "local", {"target": "upload", "sandbox_port": str(local_logs_bucket)},
                          progress_bar=False)

    from tradai_nb.records import anchoring

    assert record.status == "succeeded", record.error
    s3 = session_for(load_settings("local", {"sandbox_port": local_logs_bucket})).client("s3")
    notebook_key = anchoring.notebook_key(record.chain, record.notebook_file)
    uploaded_notebook = s3.get_object(Bucket="tradai-logs-local", Key=notebook_key)["Body"].read()
    started, finished = (s3.get_object(Bucket="tradai-logs-local", Key=anchoring.record_key(record.chain, seq))
                         ["Body"].read().decode() for seq in (1, 2))
    assert uploaded_notebook == (audit_dir / record.notebook_file).read_bytes()
    assert [started, finished] == (audit_dir / audit.INDEX_FILE).read_text().splitlines()


def test_run__notebook_error_is_recorded_as_failed_with_its_cell(probe_notebook, audit_dir):
    record = run_notebook(probe_notebook, "dev", {"target": "x", "fail_message": "disk on fire"}, progress_bar=False)

    assert record.status == "failed"
    assert record.error["ename"] == "RuntimeError" and record.error["evalue"] == "disk on fire"
    assert record.error["cell"] is not None
    stored = _notebook_of(audit_dir, record)
    assert "types int float bool 1 0.5 False" in _output_text(stored)
    assert audit.local_problems(audit.AuditStore(audit_dir))[1] == []


def test_run__guard_error_raised_inside_the_notebook_is_recorded_as_refused(probe_notebook, audit_dir):
    record = run_notebook(probe_notebook, "dev", {"target": "x", "refuse": "true"}, progress_bar=False)

    assert record.status == "refused"
    assert record.error == {"ename": "GuardError", "evalue": "probe refused on purpose", "cell": record.error["cell"]}


@pytest.mark.parametrize(
    ("notebook", "parameters", "named"),
    [("foundation", {"action": "import"}, "state_file"), ("bootstrap", {"action": "destroy"}, "action")],
    ids=["import-needs-state-file", "bootstrap-never-destroys"],
)
def test_run__stack_notebook_precheck_refuses_before_the_kernel(audit_dir, kernel_runs, notebook, parameters, named):
    record = run_notebook(STACK_NOTEBOOKS_DIR / f"{notebook}.ipynb", "dev", parameters)

    assert kernel_runs == []
    assert record.status == "refused" and f"'{named}'" in record.error["evalue"]


def test_run__unknown_notebook_or_environment_is_refused_and_recorded_without_a_notebook(audit_dir, kernel_runs):
    missing = run_notebook("notebooks/stacks/nothing.ipynb", "dev")
    unknown = run_notebook(PROJECT_ROOT / "notebooks" / "stacks" / "edge.ipynb", "qa")

    assert kernel_runs == []
    assert (missing.status, missing.stage, missing.error["ename"]) == ("refused", "notebook", "ParameterError")
    assert "no such .ipynb file" in missing.error["evalue"]
    assert (unknown.status, unknown.stage, unknown.error["ename"]) == ("refused", "settings", "SettingsError")
    assert "unknown environment 'qa'" in unknown.error["evalue"]
    assert missing.notebook_file is None and unknown.notebook_file is None
    assert [r.status for r in audit.read_records(audit_dir)] == ["refused", "refused"]


def test_run__a_short_passphrase_is_a_warning_in_dev_and_a_refusal_in_staging(probe_notebook, audit_dir, kernel_runs,
                                                                              monkeypatch, capfd):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "z9Q#k")

    refused = run_notebook(probe_notebook, "staging", {"target": "x"})
    assert kernel_runs == [] and refused.status == "refused"
    assert refused.error["ename"] == "GuardError" and "PULUMI_CONFIG_PASSPHRASE" in refused.error["evalue"]
    assert "z9Q#k" not in json.dumps(refused.to_dict())

    record = run_notebook(probe_notebook, "dev", {"target": "x"}, progress_bar=False)
    assert record.status == "succeeded"
    assert "PULUMI_CONFIG_PASSPHRASE is shorter than 8 characters" in capfd.readouterr().err
