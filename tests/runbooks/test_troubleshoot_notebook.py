"""The troubleshooting runbook, executed headless: no AWS, no sandbox, no Pulumi CLI needed."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import troubleshooting

NOTEBOOK = "troubleshoot.ipynb"


def test_troubleshoot__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(troubleshooting.check_parameters).parameters)


def test_troubleshoot__default_run_shows_the_whole_catalogue(run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK)

    assert cell_text(notebook, "settings").strip() == f"local: no error text given: the whole catalogue, " \
                                              f"{len(troubleshooting.ENTRIES)} known errors"
    shown = cell_text(notebook, "diagnosis")
    assert all(entry.id in shown for entry in troubleshooting.ENTRIES)


def test_troubleshoot__a_pasted_error_shows_its_entry_first(run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, environment="dev",
                           error_text=troubleshooting.entry("resource-already-exists").sample)

    assert cell_text(notebook, "settings").startswith("dev: 1 known error(s) match, best first: Resource already exists")
    shown = cell_text(notebook, "diagnosis")
    assert "tradai-nb stack import-resource" in shown and "stack-locked" not in shown


def test_troubleshoot__an_oversized_error_text_is_refused_naming_it(run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, error_text="x" * (troubleshooting.MAX_ERROR_TEXT_CHARS + 1))

    assert caught.value.ename == "ParameterError" and "'error_text'" in caught.value.evalue
