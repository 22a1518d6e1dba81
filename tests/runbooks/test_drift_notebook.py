"""The drift runbook, executed headless with papermill: without the Pulumi CLI it shows why, and the run fails (a
nightly drift check must not pass having checked nothing)."""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError
from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)


def test_drift_notebook__without_the_cli_shows_the_fix_and_fails(sandbox, tmp_path, monkeypatch):
    # No `pulumi` on PATH and none under HOME: the kernel meets a machine without the CLI, whatever this one has.
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not shutil.which("pulumi", path=d)]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(PapermillExecutionError) as failed:
        execute("drift", tmp_path, sandbox_port=sandbox.settings.sandbox_port)

    assert failed.value.ename == "PulumiCliMissingError" and "tradai-nb setup" in failed.value.evalue
    notebook = nbformat.read(tmp_path / "drift-executed.ipynb", as_version=4)
    last = notebook.cells[-1]
    assert last.source == "report.raise_if_failed()"
    [error] = last.outputs
    assert error.traceback == [f"PulumiCliMissingError: {failed.value.evalue}"], "a message, not a traceback wall"
    shown_text = shown(notebook, "run")
    assert "the Pulumi CLI is not installed" in shown_text and "tradai-nb setup" in shown_text
    assert shown_text.count("pulumi-cli-missing") == 4
