"""The ECS operations runbook, executed headless against the sandbox."""

from __future__ import annotations

import inspect

import papermill
import pytest

from tradai_nb import config
from tradai_nb.ops import ecs

pytestmark = pytest.mark.sandbox
NOTEBOOK = "ecs_operations.ipynb"


def test_ecs_operations__parameters_match_what_the_runbook_validates(runbook_path):
    parameters = set(papermill.inspect_notebook(str(runbook_path(NOTEBOOK))))

    assert parameters - {"environment"} == set(inspect.signature(ecs.check_parameters).parameters) - {"settings"}


def test_ecs_operations__default_run_shows_services_and_host_and_changes_nothing(sandbox, run_runbook, cell_text):
    before = ecs.service_status(sandbox.session, sandbox.settings)

    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port)

    services = cell_text(notebook, "services")
    for service in config.SERVICES:
        assert config.get_service_name(service, "local") in services
    host = ecs.asg_status(sandbox.session, sandbox.settings)
    assert host.loc[0, "instance"] in cell_text(notebook, "host")
    assert cell_text(notebook, "action") == "action 'status': nothing was changed"
    assert ecs.service_status(sandbox.session, sandbox.settings).equals(before)


def test_ecs_operations__force_redeploy_of_one_service_waits_until_stable(sandbox, run_runbook, cell_text):
    notebook = run_runbook(NOTEBOOK, sandbox_port=sandbox.settings.sandbox_port, action="force-redeploy",
                           service="data-collection", timeout_s=60)

    action = cell_text(notebook, "action")
    assert "1/1 stable" in action and config.get_service_name("data-collection", "local") in action
    assert config.get_service_name("backend", "local") not in action


def test_ecs_operations__staging_force_redeploy_without_confirm_is_refused(run_runbook):
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        run_runbook(NOTEBOOK, environment="staging", action="force-redeploy")

    assert caught.value.ename == "GuardError"
    assert "pass confirm='staging'" in caught.value.evalue
