"""Running the runbook notebooks headless with papermill against the session's sandbox."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from tradai_nb.settings import PROJECT_ROOT

RUNBOOKS = PROJECT_ROOT / "notebooks" / "runbooks"


def _cell_text(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    cell = next(c for c in notebook.cells if c.get("id") == cell_id)
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture
def cell_text():
    """cell_text(notebook, cell_id) -> everything that cell printed or displayed, as plain text."""
    return _cell_text


@pytest.fixture
def run_runbook(tmp_path):
    """run_runbook(name, **parameters) -> the executed notebook (papermill, kernel python3, cwd the project root)."""

    def run(name: str, **parameters) -> nbformat.NotebookNode:
        return papermill.execute_notebook(
            str(RUNBOOKS / name), str(tmp_path / name), parameters=parameters, cwd=str(PROJECT_ROOT),
            kernel_name="python3", progress_bar=False,
        )

    return run


@pytest.fixture
def runbook_path():
    """runbook_path(name) -> the notebook's path in notebooks/runbooks."""
    return lambda name: Path(RUNBOOKS / name)
