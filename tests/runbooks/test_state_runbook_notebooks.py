"""The Pulumi state runbook notebooks stay thin and in step with the functions they call (no kernel needed)."""

from __future__ import annotations

import ast
import inspect

import nbformat
import papermill
import pytest
from state_notebooks import RUNBOOKS

from tradai_nb.ops import drift, locks, outputs, rollback, state_backup

# Notebook -> the function its parameters feed (besides `environment`, which picks the settings).
CALLED = {
    "state_backup": state_backup.run_runbook,
    "state_locks": locks.run_runbook,
    "rollback": rollback.rollback,
    "outputs": outputs.stack_outputs,
    "drift": drift.detect_drift,
}
READ_ONLY_DEFAULTS = {"action": "list", "dry_run": True, "confirm": ""}
MAX_CELL_LINES = 15


@pytest.mark.parametrize("name", CALLED, ids=list(CALLED))
def test_notebook__parameters_are_what_the_function_takes_with_read_only_defaults(name):
    declared = papermill.inspect_notebook(str(RUNBOOKS / f"{name}.ipynb"))
    defaults = {key: ast.literal_eval(p["default"]) for key, p in declared.items()}
    accepted = inspect.signature(CALLED[name]).parameters

    assert defaults.pop("environment") == "local"
    assert set(defaults) <= set(accepted), set(defaults) - set(accepted)
    for key, safe in READ_ONLY_DEFAULTS.items():
        if key in defaults:
            assert defaults[key] == safe, key


@pytest.mark.parametrize("name", CALLED, ids=list(CALLED))
def test_notebook__is_thin_markdown_first_literal_parameters_no_definitions(name):
    notebook = nbformat.read(RUNBOOKS / f"{name}.ipynb", as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    parameter_cells = [c for c in code_cells if "parameters" in c.metadata.get("tags", [])]

    assert notebook.metadata.kernelspec == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert len(parameter_cells) == 1 and code_cells[0] is parameter_cells[0]
    for statement in ast.parse(parameter_cells[0].source).body:
        assert isinstance(statement, ast.Assign)
        ast.literal_eval(statement.value)
    for cell in code_cells:
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
                       for n in ast.walk(tree)), cell.id
        assert len(cell.source.splitlines()) <= MAX_CELL_LINES, cell.id
    imports = [c for c in code_cells if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.parse(c.source).body)]
    assert len(imports) == 1
