"""Plain papermill (no tradai-nb runner) executes every stack notebook with a whole params file injected by -f."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradai_nb.settings import PROJECT_ROOT

STACK_NOTEBOOKS = ["persistent", "foundation", "compute", "edge", "bootstrap"]


@pytest.mark.parametrize("environment", ["dev", "local"], ids=["dev", "local"])
@pytest.mark.parametrize("notebook", STACK_NOTEBOOKS, ids=STACK_NOTEBOOKS)
def test_papermill__executes_stack_notebook_with_params_file(tmp_path, notebook, environment):
    executed_path = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).parent / "papermill"
    done = subprocess.run(
        [str(papermill), f"notebooks/stacks/{notebook}.ipynb", str(executed_path), "-f", f"params/{environment}.yaml",
         "-p", "action", "plan", "--no-progress-bar"],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=300,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    executed = json.loads(executed_path.read_text())
    injected = next(c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", []))
    assert f'environment = "{environment}"\n' in injected["source"]
    assert "availability_zones = " in "".join(injected["source"])  # the whole params file went in
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any(o["output_type"] == "execute_result" and "text/html" in o["data"] for o in outputs)
