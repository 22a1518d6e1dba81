"""Every notebook under notebooks/ (found by glob, so a new one is covered) stays thin: markdown saying what it is for,
when to use it, what it changes and how to verify first, one `parameters` cell of literal defaults as the first code
cell, one cell of imports, then short calls into tradai_nb — no function, class or lambda in a notebook. Stack
notebooks show a digest of each resource's inputs, so nbval sees a changed property."""

from __future__ import annotations

import ast

import nbformat
import pytest

from tradai_nb.settings import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").rglob("*.ipynb"))
STACK_NOTEBOOKS = [p for p in NOTEBOOKS if p.parent.name == "stacks"]
MAX_CELL_LINES = 15
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _id(path) -> str:
    return str(path.relative_to(PROJECT_ROOT / "notebooks"))


def test_the_glob_finds_the_stack_notebooks_and_the_runbooks():
    found = {_id(p).split("/")[0] for p in NOTEBOOKS}
    assert found == {"stacks", "runbooks"} and len(NOTEBOOKS) >= 14


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[_id(p) for p in NOTEBOOKS])
def test_notebook__is_thin(path):
    notebook = nbformat.read(path, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    parameter_cells = [c for c in code_cells if "parameters" in c.metadata.get("tags", [])]

    assert notebook.metadata.kernelspec["name"] == "python3"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert len(parameter_cells) == 1 and code_cells[0] is parameter_cells[0], "one parameters cell, first"
    for statement in ast.parse(parameter_cells[0].source).body:
        assert isinstance(statement, ast.Assign), "the parameters cell holds assignments only"
        ast.literal_eval(statement.value)
    for cell in code_cells:
        tree = ast.parse(cell.source)
        assert not any(isinstance(node, DEFINITIONS) for node in ast.walk(tree)), cell.id
        assert len(cell.source.splitlines()) <= MAX_CELL_LINES, cell.id
    imports = [c.id for c in code_cells
               if any(isinstance(node, (ast.Import, ast.ImportFrom)) for node in ast.parse(c.source).body)]
    assert len(imports) == 1, f"imports in one cell, not {imports}"
    assert any("start(globals())" in c.source for c in code_cells), "the notebook starts with tradai_nb's start"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[_id(p) for p in NOTEBOOKS])
def test_notebook__says_what_it_is_for_when_to_use_it_what_it_changes_and_how_to_verify(path):
    about = nbformat.read(path, as_version=4).cells[0].source
    when = "When to use it" if _id(path).startswith("runbooks/") else "When to run it"

    # Each part is its own bold-led paragraph, so a reader finds it and a mention in passing does not count.
    paragraphs = [p.strip() for p in about.split("\n\n")]
    for part in (when, "What it changes", "How to verify"):
        found = [p for p in paragraphs if p.startswith(f"**{part}")]
        assert len(found) == 1, f"one paragraph starting **{part}"
        assert len(found[0].split()) >= 6, f"{part}: say what, not just the heading"
    if _id(path).startswith("runbooks/"):
        assert "what it is for" in about.lower()


@pytest.mark.parametrize("path", STACK_NOTEBOOKS, ids=[_id(p) for p in STACK_NOTEBOOKS])
def test_stack_notebook__shows_every_row_of_the_digest_of_each_resource_s_inputs(path):
    notebook = nbformat.read(path, as_version=4)
    shown = [c for c in notebook.cells
             if c.cell_type == "code" and c.source.strip() == "show_all_rows(result.input_digests())"]

    assert len(shown) == 1, "one cell showing result.input_digests() whole, so nbval compares each resource's inputs"
    outputs = [o for o in shown[0].get("outputs", []) if "text/plain" in o.get("data", {})]
    assert len(outputs) == 1, "its stored output is the digest table"
    header, *rows = outputs[0]["data"]["text/plain"].splitlines()
    assert header.split() == ["stack", "type", "name", "inputs_digest"]
    # Every row, numbered from 0 without a gap: no `..` row where pandas would cut a long table.
    assert rows and [int(row.split()[0]) for row in rows] == list(range(len(rows)))
