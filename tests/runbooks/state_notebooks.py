"""Executing the Pulumi state runbook notebooks headless with papermill, and reading what their cells showed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest

from tradai_nb.settings import PROJECT_ROOT

RUNBOOKS = PROJECT_ROOT / "notebooks" / "runbooks"


@pytest.fixture(autouse=True)
def project_on_path(monkeypatch):
    """The notebook kernels import tradai_nb from this checkout."""
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))


def execute(name: str, out_dir: Path, **parameters: Any) -> nbformat.NotebookNode:
    """Run notebooks/runbooks/<name>.ipynb from the project root with the parameters; return the executed notebook."""
    out = out_dir / f"{name}-executed.ipynb"
    papermill.execute_notebook(str(RUNBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                               cwd=str(PROJECT_ROOT), kernel_name="python3", progress_bar=False)
    return nbformat.read(out, as_version=4)


def shown(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    """Everything a cell printed or displayed, as text."""
    [cell] = [c for c in notebook.cells if c.get("id") == cell_id]
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)
