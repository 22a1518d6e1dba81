"""The service access runbook, executed headless against the sandbox."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import config
from tradai_nb.ops import access

pytestmark = pytest.mark.sandbox
NOTEBOOK = "service_access.ipynb"


def test_service_access__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(access.check_parameters).parameters) - {"settings"}


def test_service_access__default_run_shows_endpoints_and_the_ssm_session_line(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port)

    endpoints = cell_text(notebook, "endpoints")
    for service, spec in config.SERVICES.items():
        assert f"{service}" in endpoints and str(spec["port"]) in endpoints and str(spec["path"]) in endpoints
    host = access.find_consolidated_instance(sandbox.session, sandbox.settings)
    assert f"aws ssm start-session --target {host.instance_id} --region eu-central-1" in cell_text(notebook, "shell")
    assert cell_text(notebook, "action") == "action 'endpoints': nothing was run on the host"


def test_service_access__docker_logs_runs_on_the_host_through_ssm(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, action="docker-logs",
                           service="mlflow", tail_lines=5, timeout_s=30)

    host = access.find_consolidated_instance(sandbox.session, sandbox.settings)
    assert cell_text(notebook, "action").startswith(
        f"docker logs mlflow --tail 5 2>&1\nSuccess (exit code 0) on {host.instance_id}")


def test_service_access__staging_restart_without_confirm_is_refused(run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, environment="staging", action="restart")

    assert caught.value.ename == "GuardError"
    assert "pass confirm='staging'" in caught.value.evalue
