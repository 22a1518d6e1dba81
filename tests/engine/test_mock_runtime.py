"""The mock runtime under the offline plan: stable row order and no Pulumi state left behind."""

from __future__ import annotations

import pytest
from pulumi.runtime import settings as pulumi_settings

from tradai_nb import config
from tradai_nb.engine import offloop
from tradai_nb.engine.plan import plan, plan_stack
from tradai_nb.errors import ConfigError, PlanError
from tradai_nb.settings import load_settings
from tradai_nb.stacks import stacks


def test_plan__rows_in_dependency_order_the_same_on_every_run():
    frame = plan(load_settings("dev"), ["edge"]).resources
    assert len(frame) > 1
    seen: set[str] = set()
    for row in frame.itertuples():
        assert {d for d in (*row.dependencies, row.parent) if d in set(frame["urn"])} <= seen, row.urn
        seen.add(row.urn)
    assert any(row.dependencies for row in frame.itertuples())
    assert all(list(deps) == sorted(deps) for deps in frame["dependencies"])
    assert list(plan(load_settings("dev"), ["edge"]).resources["urn"]) == list(frame["urn"])


def _pulumi_view() -> tuple:
    """What Pulumi's runtime settings (context variables) say in the calling thread."""
    return pulumi_settings.SETTINGS.stack, pulumi_settings.SETTINGS.project, pulumi_settings.get_root_resource()


def test_plan__leaves_no_pulumi_stack_behind():
    caller_before = _pulumi_view()
    plan(load_settings("dev"), ["edge"])
    assert offloop.call(_pulumi_view) == (None, None, None)
    assert _pulumi_view() == caller_before, "the plan changed Pulumi's settings in the caller's thread"
    with pytest.raises(ConfigError, match="no environment given"):
        offloop.call(config.get_resource_name, "backend")


def test_plan__leaves_no_pulumi_stack_behind_when_a_program_fails():
    caller_before = _pulumi_view()
    with pytest.raises(PlanError):
        plan_stack(load_settings("dev"), stacks.get("edge"), {"persistent": {}, "foundation": {}, "compute": {}})
    assert offloop.call(_pulumi_view) == (None, None, None)
    assert _pulumi_view() == caller_before


def test_plan__a_failed_plan_does_not_fail_the_next_one():
    settings = load_settings("dev")
    with pytest.raises(PlanError, match="requires output"):
        plan_stack(settings, stacks.get("edge"), {"persistent": {}, "foundation": {}, "compute": {}})
    assert set(plan(settings, ["edge"]).exports["edge"]) >= {"api_id", "dashboard_name"}
