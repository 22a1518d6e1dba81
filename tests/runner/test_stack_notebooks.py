"""The stack notebooks stay thin and match what the package accepts."""

from __future__ import annotations

import ast
import inspect

import nbformat
import papermill
import pytest

from tradai_nb.actions import run_stack_action
from tradai_nb.bootstrap import bootstrap
from tradai_nb.runner import STACK_NOTEBOOKS_DIR

STACK_NOTEBOOKS = ["persistent", "foundation", "compute", "edge", "bootstrap"]


@pytest.mark.parametrize("name", STACK_NOTEBOOKS, ids=STACK_NOTEBOOKS)
def test_stack_notebook__is_thin_markdown_parameters_imports_then_calls(name):
    notebook = nbformat.read(STACK_NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]

    assert notebook.metadata.kernelspec.name == "python3" and notebook.nbformat == 4
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert "parameters" in code[0].metadata.get("tags", [])
    assert [c for c in code if "parameters" in c.metadata.get("tags", [])] == [code[0]]
    assert all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.parse(code[1].source).body)
    assert not [c for c in code[2:] if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(ast.parse(c.source)))]
    for cell in code:
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
        assert len(cell.source.splitlines()) <= 15
    assert all(c.outputs == [] for c in code[:2]) and any(c.outputs for c in code[2:])  # committed with a plan run


@pytest.mark.parametrize("name", STACK_NOTEBOOKS, ids=STACK_NOTEBOOKS)
def test_stack_notebook__parameters_are_literal_safe_defaults_the_package_accepts(name):
    parameters = papermill.inspect_notebook(str(STACK_NOTEBOOKS_DIR / f"{name}.ipynb"))
    defaults = {n: ast.literal_eval(p["default"]) for n, p in parameters.items()}
    accepted = inspect.signature(bootstrap if name == "bootstrap" else run_stack_action).parameters

    assert defaults["environment"] == "local" and defaults["action"] == "plan" and defaults["confirm"] == ""
    assert set(defaults) - {"environment"} <= set(accepted)
    if name != "bootstrap":
        assert defaults["allow_destroy"] is False and defaults["state_file"] == ""
    assert all(p["help"] for p in parameters.values())
