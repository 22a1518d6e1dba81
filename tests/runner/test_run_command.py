"""`tradai-nb run`: exit code by outcome, the record's summary printed, -p given once per name."""

from __future__ import annotations

from tradai_nb import audit
from tradai_nb.cli import main


def test_run_command__succeeds_with_exit_0_and_prints_where_the_record_is(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "cli", "-p", "count", "4"]) == 0

    printed = capsys.readouterr().out
    (record,) = audit.read_records(audit_dir)
    assert printed.startswith(f"succeeded: {record.notebook} in dev")
    assert f"record {record.id}" in printed and record.notebook_file in printed
    assert "upload: s3://tradai-logs-dev/audit/dev/" in printed and "FAILED (AwsAccessError" in printed
    assert record.parameters == {"environment": "dev", "target": "cli", "count": 4}


def test_run_command__show_prints_what_the_notebook_showed_without_its_parameters(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "shown", "-p", "count", "3", "--show"]) == 0

    printed = capsys.readouterr().out
    assert "types int float bool 3 0.5 False" in printed and "target shown label probe" in printed
    assert "retention 7" in printed
    assert 'label = "probe"' not in printed and "target = " not in printed


def test_run_command__refusal_exits_2_naming_the_parameter(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "cli", "-p", "ratio", "lots"]) == 2

    printed = capsys.readouterr().out
    assert printed.startswith("refused:") and "ParameterError: parameter 'ratio': expected a float" in printed
    assert [r.status for r in audit.read_records(audit_dir)] == ["refused"]


def test_run_command__a_parameter_given_twice_is_an_error_before_any_record(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "a", "-p", "target", "b"]) == 2

    assert "parameter 'target' is given twice" in capsys.readouterr().err
    assert audit.read_records(audit_dir) == []
