"""Changing runbook steps in staging and prod refuse to run without confirm=<environment>, before any AWS call."""

from __future__ import annotations

import pytest

from tradai_nb.errors import GuardError
from tradai_nb.ops import access, ecs
from tradai_nb.records.gate import require_confirm
from tradai_nb.settings import load_settings

CHANGING_STEPS = {
    "force-redeploy": lambda session, settings, confirm: ecs.force_redeploy(session, settings, "all", confirm),
    "rollback": lambda session, settings, confirm: ecs.rollback_service(session, settings, "backend", dry_run=False,
                                                                         confirm=confirm),
    "instance-refresh": lambda session, settings, confirm: ecs.start_instance_refresh(session, settings, confirm),
    "restart": lambda session, settings, confirm: access.restart_services(session, settings, "all", confirm),
    "ecs runbook force-redeploy": lambda session, settings, confirm: ecs.check_parameters(
        settings, action="force-redeploy", service="all", confirm=confirm, timeout_s=60),
    "access runbook restart": lambda session, settings, confirm: access.check_parameters(
        settings, action="restart", service="all", tail_lines=50, alb_dns_name="", confirm=confirm, timeout_s=60),
}


# Steps on the consolidated host exist only where there is one (staging); prod runs on Fargate.
HOST_STEPS = ("instance-refresh", "restart", "access runbook restart")
CASES = [(environment, step) for environment in ("staging", "prod") for step in CHANGING_STEPS
         if environment == "staging" or step not in HOST_STEPS]


@pytest.mark.parametrize("confirm", ["", "dev", "yes"], ids=["none", "other-environment", "yes"])
@pytest.mark.parametrize("environment, step", CASES, ids=[f"{e}-{s.replace(' ', '-')}" for e, s in CASES])
def test_changing_steps__refuse_without_confirm_before_any_aws_call(untouchable_session, environment, step, confirm):
    with pytest.raises(GuardError, match=f"pass confirm='{environment}'") as caught:
        CHANGING_STEPS[step](untouchable_session, load_settings(environment), confirm)

    assert caught.value.name == "confirm"
    untouchable_session.client.assert_not_called()


@pytest.mark.parametrize("environment, confirm", [("local", ""), ("dev", ""), ("staging", "staging"), ("prod", "prod")],
                         ids=["local", "dev", "staging-confirmed", "prod-confirmed"])
def test_require_confirm__lets_unprotected_or_confirmed_steps_through(environment, confirm):
    require_confirm(environment, confirm, "a changing step")
