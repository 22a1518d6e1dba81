"""`tradai-nb run`: exit code by outcome, the record's summary printed, -p given once per name."""

from __future__ import annotations

from tradai_nb.cli import main
from tradai_nb.errors import EXIT_REFUSED
from tradai_nb.records import audit


def test_run_command__succeeds_with_exit_0_and_prints_where_the_record_is(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "cli", "-p", "count", "4"]) == 0

    captured = capsys.readouterr()
    started, record = audit.read_records(audit_dir)
    assert (started.id, started.status) == (record.id, "started")
    assert captured.out.startswith(f"succeeded: {record.notebook} in dev")
    assert f"record {record.id}" in captured.out and record.notebook_file in captured.out
    assert "upload to s3://tradai-logs-dev failed" in captured.err and "aws_profile" in captured.err
    assert record.parameters == {"environment": "dev", "target": "cli", "count": 4}


def test_run_command__show_prints_what_the_notebook_showed_without_its_parameters(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "shown", "-p", "count", "3", "--show"]) == 0

    printed = capsys.readouterr().out
    assert "types int float bool 3 0.5 False" in printed and "target shown label probe" in printed
    assert "retention 7" in printed
    assert 'label = "probe"' not in printed and "target = " not in printed


def test_run_command__refusal_exits_2_naming_the_parameter(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "cli", "-p", "ratio", "lots"]) == 2

    captured = capsys.readouterr()
    assert captured.out.startswith("refused:") and "stopped at: parameters" in captured.out
    assert "ParameterError: parameter 'ratio': expected a float" in captured.err
    assert [r.status for r in audit.read_records(audit_dir)] == ["started", "refused"]


def test_run_command__a_guard_refusal_exits_10(audit_dir, capsys):
    code = main(["run", "notebooks/stacks/compute.ipynb", "--env", "prod", "-p", "action", "up"])

    assert code == EXIT_REFUSED
    assert "GuardError" in capsys.readouterr().err
    assert [r.status for r in audit.read_records(audit_dir)] == ["started", "refused"]


def test_run_command__a_value_starting_with_a_dash_is_taken_either_way(probe_notebook, audit_dir):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target=-t", "-p", "label", "-5m"]) == 0

    record = audit.read_records(audit_dir)[-1]
    assert (record.parameters["target"], record.parameters["label"]) == ("-t", "-5m")


def test_run_command__a_parameter_given_twice_is_an_error_before_any_record(probe_notebook, audit_dir, capsys):
    assert main(["run", str(probe_notebook), "--env", "dev", "-p", "target", "a", "-p", "target", "b"]) == 2

    assert "parameter 'target' is given twice" in capsys.readouterr().err
    assert audit.read_records(audit_dir) == []
