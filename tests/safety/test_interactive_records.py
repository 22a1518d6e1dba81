"""Changes made from a notebook kernel are recorded wherever the kernel came from: JupyterLab or VS Code
(interactive, the saved notebook kept), a headless client such as papermill (the executed cells kept)."""

from __future__ import annotations

import json

import nbformat
import papermill
import pytest

from tradai_nb.records import audit, provenance
from tradai_nb.settings import PROJECT_ROOT

CELLS = [
    "from tradai_nb.records import gate\nfrom tradai_nb.settings import load_settings",
    "with gate.change(load_settings('local'), 'state.backup', target='compute', parameters={'why': 'test'}):\n"
    "    print('changing')",
]


@pytest.fixture
def journal(tmp_path, monkeypatch):
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    for name in (provenance.RUN_ID_VARIABLE, provenance.JUPYTER_SESSION_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return audit.AuditStore(tmp_path / "runs")


def _saved_notebook(path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# Saved by the operator"),
                      *map(nbformat.v4.new_code_cell, CELLS)]
    nbformat.write(notebook, path)
    return notebook


def test_kernel_of_a_jupyter_session__records_interactive_with_the_saved_notebook(journal, tmp_path, monkeypatch):
    path = tmp_path / "operator.ipynb"
    _saved_notebook(path)
    # What jupyter_server sets for the kernel of an open notebook (JupyterLab, Notebook 7).
    monkeypatch.setenv(provenance.JUPYTER_SESSION_VARIABLE, str(path))

    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                               cwd=str(PROJECT_ROOT))

    started, succeeded = journal.records()
    assert (started.origin, started.status, succeeded.status) == ("interactive", "started", "succeeded")
    assert started.notebook == str(path.resolve())
    kept = json.loads((journal.root / started.notebook_file).read_text())
    assert "".join(kept["cells"][0]["source"]) == "# Saved by the operator"
    assert any("gate.change" in cell for cell in kept["metadata"]["tradai"]["executed_cells"])
    assert audit.local_problems(journal)[1] == []


def test_headless_kernel__records_papermill_with_the_executed_cells(journal, tmp_path):
    path = tmp_path / "headless.ipynb"
    _saved_notebook(path)

    papermill.execute_notebook(str(path), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
                               cwd=str(PROJECT_ROOT))

    started, _ = journal.records()
    assert started.origin == "papermill" and started.notebook is None
    kept = json.loads((journal.root / started.notebook_file).read_text())
    assert ["".join(c["source"]) for c in kept["cells"]] == CELLS
