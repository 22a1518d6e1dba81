"""Test-session isolation: every run gets its own TRADAI_HOME, params folder (free sandbox port) and audit folder,
and the runbook notebooks checked by nbval meet a freshly seeded sandbox of their own, never a user's."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from tradai_nb.settings import HOME_ENV_VAR

RUNBOOK_NOTEBOOKS = Path(__file__).resolve().parent / "notebooks" / "runbooks"
_session = contextlib.ExitStack()
_isolated_home: list[str] = []
_sandbox_started: list[bool] = []
_item_environment = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    from tradai_nb.records.audit import AUDIT_DIR_VARIABLE
    from tradai_nb.sandbox.server import isolated_local_environment

    # Environment variables, so notebook kernels started by nbval and papermill see the same isolation.
    root = _session.enter_context(isolated_local_environment())
    _session.enter_context(_environment_variable(AUDIT_DIR_VARIABLE, str(root / "runs")))
    _isolated_home.append(os.environ[HOME_ENV_VAR])


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not Path(str(item.path)).resolve().is_relative_to(RUNBOOK_NOTEBOOKS):
        return
    from tradai_nb.sandbox import server as sandbox
    from tradai_nb.settings import load_settings

    # Test fixtures may point TRADAI_HOME at their own sandbox; the runbook notebooks (and the kernels nbval starts
    # for them) meet the session's freshly seeded one.
    _item_environment.enter_context(_environment_variable(HOME_ENV_VAR, _isolated_home[0]))
    if not _sandbox_started:
        sandbox.ensure_running(load_settings("local"))
        _sandbox_started.append(True)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    _item_environment.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    _session.close()


@contextlib.contextmanager
def _environment_variable(name: str, value: str):
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved
