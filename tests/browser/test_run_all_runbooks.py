"""Run All in JupyterLab, in a real browser, for every runbook notebook (and any other notebook outside
notebooks/stacks/): every cell executes, no cell shows an error or stderr, the stored outputs' tables render."""

from __future__ import annotations

import pytest
from lab_driver import OTHER_NOTEBOOKS, assert_run_all_is_clean

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("notebook", OTHER_NOTEBOOKS, ids=[n.removeprefix("notebooks/") for n in OTHER_NOTEBOOKS])
def test_run_all__executes_every_cell_and_renders_its_tables_and_figures_without_errors(page, lab, notebook):
    assert_run_all_is_clean(page, lab, notebook)
