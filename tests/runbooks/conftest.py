"""Running the runbook notebooks headless with papermill against the session's sandbox."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest
from state_notebooks import RUNBOOKS, shown

from tradai_nb.settings import PROJECT_ROOT


@pytest.fixture
def cell_text():
    """cell_text(notebook, cell_id) -> everything that cell printed or displayed, as plain text."""
    return shown


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
