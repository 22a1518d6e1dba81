"""refresh_notebooks re-executes a notebook in place and reproduces the committed outputs of the local plan."""

from __future__ import annotations

import re
import shutil

import nbformat

from tradai_nb.runner import STACK_NOTEBOOKS_DIR, refresh_notebooks


def _plain_outputs(notebook) -> list[list[str]]:
    # Progress lines carry the time they took; everything else must be the same. Consecutive writes to one stream
    # are one text, as Jupyter shows them (how a kernel batches them into outputs depends on timing).
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        shown: list[str] = []
        previous = None
        for output in cell.get("outputs", []):
            text = re.sub(r"\(\d+\.\d s\)", "(DURATION)", output.get("text") or output.get("data", {}).get("text/plain", ""))
            stream = output.get("name") if output.get("output_type") == "stream" else None
            if stream is not None and stream == previous:
                shown[-1] += text
            else:
                shown.append(text)
            previous = stream
        cells.append(shown)
    return cells


def test_refresh__re_executes_in_place_and_matches_the_committed_outputs(tmp_path):
    committed = nbformat.read(STACK_NOTEBOOKS_DIR / "edge.ipynb", as_version=4)
    copy = tmp_path / "edge.ipynb"
    shutil.copy(STACK_NOTEBOOKS_DIR / "edge.ipynb", copy)
    cleared = nbformat.read(copy, as_version=4)
    for cell in cleared.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(cleared, copy)

    assert refresh_notebooks([copy], on_progress=lambda line: None) == [copy]

    refreshed = nbformat.read(copy, as_version=4)
    assert any(_plain_outputs(refreshed))
    assert _plain_outputs(refreshed) == _plain_outputs(committed)
    code_cells = [c for c in refreshed.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))
    assert not any("execution" in c.metadata for c in refreshed.cells)  # no timing metadata to churn in git
