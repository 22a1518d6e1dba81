"""The import runbook, executed headless against the sandbox."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import config
from tradai_nb.ops import resource_import

pytestmark = pytest.mark.sandbox
NOTEBOOK = "import_resources.ipynb"


def test_import_resources__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(resource_import.check_parameters).parameters) - {
        "settings"}


def test_import_resources__default_dry_run_finds_the_bucket_and_imports_nothing(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port)

    bucket = config.get_bucket_name("configs", "local")
    assert bucket in cell_text(notebook, "check")
    assert f"import_={bucket!r}" in cell_text(notebook, "code")
    assert cell_text(notebook, "action").startswith("dry run: nothing was imported")


def test_import_resources__a_missing_resource_fails_the_run(sandbox, run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, resource_id="tradai-no-such-bucket-local")

    assert caught.value.ename == "OperationError" and "does not exist" in caught.value.evalue


def test_import_resources__staging_import_without_confirm_is_refused(run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, environment="staging", dry_run=False, resource_id="tradai-configs-staging")

    assert caught.value.ename == "GuardError" and "pass confirm='staging'" in caught.value.evalue
