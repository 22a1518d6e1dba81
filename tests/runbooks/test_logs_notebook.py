"""The logs runbook, executed headless against the sandbox."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import config
from tradai_nb.ops import logs
from tradai_nb.sandbox.rehearsal_data import LOG_EVENTS_PER_STREAM

pytestmark = pytest.mark.sandbox
NOTEBOOK = "logs.ipynb"


def test_logs__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(logs.check_parameters).parameters) - {"settings"}


def test_logs__filtered_tail_counts_the_matching_events_per_stream(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, since="1h", filter_pattern="ERROR",
                           max_rows=3)

    per_error_line = LOG_EVENTS_PER_STREAM // 6
    summary = cell_text(notebook, "tail")
    assert summary.startswith(f"{4 * per_error_line} events in {config.CONSOLIDATED_LOG_GROUP} over the last 1h "
                              "matching 'ERROR' (1 page(s) read)")
    rows = {tuple(line.split()[-2:]) for line in summary.splitlines()}
    assert {(str(spec["container"]), str(per_error_line)) for spec in config.SERVICES.values()} <= rows
    events = cell_text(notebook, "events")
    assert events.count("ERROR upstream timeout") == 3


def test_logs__a_bad_duration_stops_the_run_naming_the_parameter(sandbox, run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, since="yesterday")

    assert caught.value.ename == "ParameterError"
    assert "parameter 'since'" in caught.value.evalue
