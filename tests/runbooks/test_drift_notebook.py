"""The drift runbook, executed headless with papermill: without the Pulumi CLI it shows why, and does not fail."""

from __future__ import annotations

import os
import shutil

from state_notebooks import execute, project_on_path, shown  # noqa: F401 (fixture)


def test_drift_notebook__without_the_cli_shows_the_fix_as_its_result(sandbox, tmp_path, monkeypatch):
    # No `pulumi` on PATH and none under HOME: the kernel meets a machine without the CLI, whatever this one has.
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not shutil.which("pulumi", path=d)]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    monkeypatch.setenv("HOME", str(tmp_path))

    notebook = execute("drift", tmp_path, sandbox_port=sandbox.settings.sandbox_port)

    shown_text = shown(notebook, "run")
    assert "the Pulumi CLI is not installed" in shown_text and "tradai-nb setup" in shown_text
    assert shown_text.count("pulumi-cli-missing") == 4
