"""Fixtures for audit tests: records appended to a temporary audit folder, no kernel needed."""

from __future__ import annotations

from datetime import UTC, datetime

import nbformat
import pytest

from tradai_nb.records import audit


@pytest.fixture
def audit_dir(tmp_path, monkeypatch):
    directory = tmp_path / "runs"
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(directory))
    return directory


def executed_notebook(text: str = "hello") -> dict:
    """A small executed notebook (as JSON data)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["papermill"] = {"parameters": {"environment": "dev"}, "output_path": "tradai-memory://1/x.ipynb"}
    cell = nbformat.v4.new_code_cell(f"print({text!r})", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{text}\n")]
    notebook.cells = [cell]
    return nbformat.from_dict(notebook)


def entry(environment: str = "dev", status: str = "succeeded", *, started: datetime | None = None,
          action: str = "ecs.force-redeploy", target: str = "backend", **overrides) -> dict:
    """The fields of one record as the gate or the runner hands them to AuditStore.append."""
    moment = started or datetime.now(UTC)
    store = audit.AuditStore(audit.audit_root())
    return {
        "id": store.new_id(moment, f"{action}-{target}"), "kind": "change", "status": status, "origin": "python",
        "action": action, "target": target, "environment": environment, "operator": "ana", "host": "laptop-3",
        "git_commit": "0" * 40, "git_dirty": False, "notebook": None, "parameters": {"service": target},
        "start": audit.timestamp(moment), "end": audit.timestamp(moment), "duration_s": 1.5, "stage": None,
        "error": None, "parent": None, **overrides,
    }


@pytest.fixture
def make_entry():
    """make_entry(environment, status, **fields) -> the fields of one record, ready for AuditStore.append."""
    return entry


@pytest.fixture
def append(audit_dir):
    """append(environment, status, text=..., **fields) -> the appended record (with a notebook unless text=None)."""
    def add(environment: str = "dev", status: str = "succeeded", *, text: str | None = "hello", **fields):
        store = audit.AuditStore(audit_dir)
        return store.append(entry(environment, status, **fields), executed_notebook(text) if text else None)

    return add


@pytest.fixture
def small_notebook():
    """small_notebook(text) -> a small executed notebook (JSON data)."""
    return executed_notebook
