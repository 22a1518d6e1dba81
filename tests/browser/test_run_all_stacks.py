"""Run All in JupyterLab, in a real browser, for every stack notebook: every cell executes, no cell shows an error
or stderr, the tables and figures the stored outputs hold render."""

from __future__ import annotations

import pytest
from lab_driver import STACK_NOTEBOOKS, assert_run_all_is_clean

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("notebook", STACK_NOTEBOOKS, ids=[n.removeprefix("notebooks/") for n in STACK_NOTEBOOKS])
def test_run_all__executes_every_cell_and_renders_its_tables_and_figures_without_errors(page, lab, notebook):
    assert_run_all_is_clean(page, lab, notebook)
