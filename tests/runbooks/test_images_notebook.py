"""The images runbook, executed headless against the sandbox."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import config
from tradai_nb.ops import images

pytestmark = pytest.mark.sandbox
NOTEBOOK = "images.ipynb"


def test_images__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(images.check_parameters).parameters) - {"settings"}


def test_images__default_run_checks_every_function_and_service_image(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port)

    in_use = len(config.LAMBDA_FUNCTIONS) + len(config.SERVICES)
    deployed = cell_text(notebook, "deployed")
    assert deployed.startswith(f"{in_use} images in use, 0 missing from ECR")
    assert config.get_function_name("drift-monitor", "local") in deployed
    latest = cell_text(notebook, "latest")
    assert all(config.get_ecr_repo_name(r) in latest for r in config.ECR_REPOSITORIES)
