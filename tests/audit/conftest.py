"""Fixtures for audit tests: records written through audit.Run into a temporary audit directory, no kernel needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from tradai_nb import audit
from tradai_nb.settings import load_settings


@pytest.fixture
def audit_dir(tmp_path, monkeypatch):
    directory = tmp_path / "runs"
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(directory))
    return directory


def executed_notebook(text: str = "hello") -> dict:
    """A small executed notebook as papermill leaves it (as JSON data)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["papermill"] = {"parameters": {"environment": "dev"}, "output_path": "tradai-memory://1/x.ipynb"}
    cell = nbformat.v4.new_code_cell(f"print({text!r})", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{text}\n")]
    notebook.cells = [cell]
    return nbformat.from_dict(notebook)


@pytest.fixture
def small_notebook():
    """small_notebook(text) -> a small executed notebook (JSON data)."""
    return executed_notebook


@pytest.fixture
def record_run(audit_dir):
    """record_run(environment, status, started=...) -> a finished record (upload off unless settings say so)."""
    def record(environment: str = "dev", status: str = "succeeded", *, started: datetime | None = None,
               notebook: str = "foundation", settings=None, parameters=None, text: str = "hello"):
        settings = settings or load_settings(environment, {"audit_upload": False})
        run = audit.Run(Path(f"notebooks/stacks/{notebook}.ipynb"), settings, parameters or {"environment": environment})
        if started is not None:
            run.started = started.astimezone(UTC)
        error = None if status == "succeeded" else {"ename": "RuntimeError", "evalue": "boom", "cell": 1}
        return run.finish(executed_notebook(text), status=status, parameters=parameters or {"environment": environment},
                          error=error)

    return record
