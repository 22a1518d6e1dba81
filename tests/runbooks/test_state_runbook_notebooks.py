"""The Pulumi state runbook notebooks stay in step with the functions they call (no kernel needed); every
notebook's thinness is tests/test_notebooks_thin.py's."""

from __future__ import annotations

import ast
import inspect

import papermill
import pytest
from state_notebooks import RUNBOOKS

from tradai_nb.ops import drift, locks, outputs, rollback, state_backup

# Notebook -> the function its parameters feed (besides `environment`, which picks the settings).
CALLED = {
    "state_backup": state_backup.run_runbook,
    "state_locks": locks.run_runbook,
    "rollback": rollback.rollback,
    "outputs": outputs.stack_outputs,
    "drift": drift.detect_drift,
}
READ_ONLY_DEFAULTS = {"action": "list", "dry_run": True, "confirm": ""}


@pytest.mark.parametrize("name", CALLED, ids=list(CALLED))
def test_notebook__parameters_are_what_the_function_takes_with_read_only_defaults(name):
    declared = papermill.inspect_notebook(str(RUNBOOKS / f"{name}.ipynb"))
    defaults = {key: ast.literal_eval(p["default"]) for key, p in declared.items()}
    accepted = inspect.signature(CALLED[name]).parameters

    assert defaults.pop("environment") == "local"
    assert set(defaults) <= set(accepted), set(defaults) - set(accepted)
    for key, safe in READ_ONLY_DEFAULTS.items():
        if key in defaults:
            assert defaults[key] == safe, key
