"""Where a run or change comes from: operator, host, git state, the client that started it and its notebook."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradai_nb.settings import PROJECT_ROOT

# Set by `tradai-nb run` for the kernel it starts: changes made in that kernel belong to the run.
RUN_ID_VARIABLE = "TRADAI_RUN_ID"
RUN_NOTEBOOK_VARIABLE = "TRADAI_RUN_NOTEBOOK"
# Set by jupyter_server (JupyterLab, Notebook 7) for a notebook's kernel: the notebook's full path.
JUPYTER_SESSION_VARIABLE = "JPY_SESSION_NAME"
# Set by VS Code's Jupyter extension in the kernel's namespace.
VSCODE_NOTEBOOK_NAME = "__vsc_ipynb_file__"
GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class Provenance:
    """Who and what is behind a record."""

    operator: str
    host: str
    git_commit: str | None
    git_dirty: bool | None
    origin: str
    notebook: str | None
    run_id: str | None


def current() -> Provenance:
    """The provenance of code running now, in this process."""
    origin, notebook = _origin()
    commit, dirty = git_state()
    return Provenance(
        operator(), socket.gethostname(), commit, dirty, origin, notebook, os.environ.get(RUN_ID_VARIABLE) or None
    )


def snapshot(origin: str) -> dict[str, Any] | None:
    """The notebook a change record keeps (as JSON data), unscrubbed: for JupyterLab or VS Code the notebook file as
    saved at this moment, with the cells executed so far in its metadata (the saved file may lag behind them); for a
    headless client the executed cells; None for `tradai-nb run` (the run keeps its executed notebook) and for
    plain Python."""
    if origin not in ("interactive", "papermill"):
        return None
    executed = _executed_cells()
    saved = _saved_notebook() if origin == "interactive" else None
    if saved is not None:
        saved.setdefault("metadata", {})["tradai"] = {"executed_cells": executed}
        return saved
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["tradai"] = {"source": "the cells this kernel executed, in order"}
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in executed]
    return json.loads(nbformat.writes(notebook))


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def git_state() -> tuple[str | None, bool | None]:
    """The checked-out commit and whether the working tree differs from it (None when not a git checkout)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = git("status", "--porcelain")
    return commit.strip(), None if status is None else bool(status.strip())


def display_path(path: str | Path) -> str:
    """A path as records show it: relative to the project root when inside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(resolved)


def _kernel_shell():
    """The IPython shell of the Jupyter kernel this code runs in, or None outside a kernel."""
    if "ipykernel" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _origin() -> tuple[str, str | None]:
    if os.environ.get(RUN_ID_VARIABLE):
        return "run", os.environ.get(RUN_NOTEBOOK_VARIABLE)
    shell = _kernel_shell()
    if shell is not None:
        opened = _opened_notebook(shell)
        if opened is not None:
            return "interactive", display_path(opened)
        return "papermill", None
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    return "python", display_path(script) if script is not None and script.is_file() else None


def _opened_notebook(shell) -> str | None:
    vscode = shell.user_ns.get(VSCODE_NOTEBOOK_NAME)
    if isinstance(vscode, str) and vscode:
        return vscode
    session = os.environ.get(JUPYTER_SESSION_VARIABLE)
    return session if session and session.endswith(".ipynb") else None


def _saved_notebook() -> dict[str, Any] | None:
    shell = _kernel_shell()
    opened = _opened_notebook(shell) if shell is not None else None
    if opened is None:
        return None
    try:
        data = json.loads(Path(opened).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("cells"), list) else None


def _executed_cells() -> list[str]:
    shell = _kernel_shell()
    if shell is None:
        return []
    history = shell.user_ns.get("In", [])
    return [source for source in history[1:] if isinstance(source, str) and source.strip()]
