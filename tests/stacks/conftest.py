"""Fixtures for stack tests: plans per environment (cached for the session) and type-token helpers."""

from __future__ import annotations

import functools
import importlib
import inspect
import keyword

import pytest

from tradai_nb.engine.plan import Plan, plan
from tradai_nb.settings import load_settings


@functools.lru_cache(maxsize=None)
def _plan(environment: str) -> Plan:
    return plan(load_settings(environment))


@pytest.fixture(scope="session")
def plan_of():
    """plan_of("dev") -> the whole-estate Plan of that environment (computed once per session)."""
    return _plan


@functools.lru_cache(maxsize=None)
def is_taggable(type_token: str) -> bool:
    """Whether a pulumi-aws resource type accepts `tags` (read from the resource class's signature)."""
    package, module, kind = type_token.split(":")
    if package != "aws":
        return False
    python_module = module.split("/")[0]
    if keyword.iskeyword(python_module):  # aws:lambda/... lives in pulumi_aws.lambda_
        python_module += "_"
    resource_class = getattr(importlib.import_module(f"pulumi_aws.{python_module}"), kind)
    return "tags" in inspect.signature(resource_class._internal_init).parameters


def resources_of(plan_result: Plan, stack: str, type_token: str | None = None):
    """Rows of the plan's resource table for one stack (and type)."""
    frame = plan_result.resources
    frame = frame[frame["stack"] == stack]
    return frame if type_token is None else frame[frame["type"] == type_token]
