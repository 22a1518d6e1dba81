"""The one confirm rule (records.gate): who must confirm, what counts as a confirmation, and the parameter's type."""

from __future__ import annotations

import pytest

from tradai_nb import config
from tradai_nb.errors import GuardError, ParameterError
from tradai_nb.records import gate


@pytest.mark.parametrize("environment", config.ENVIRONMENTS)
def test_only_the_protected_environments_need_a_confirmation_unless_always(environment):
    assert gate.needs_confirm(environment) == (environment in config.PROTECTED_ENVIRONMENTS)
    assert gate.needs_confirm(environment, always=True)


@pytest.mark.parametrize("environment", config.PROTECTED_ENVIRONMENTS)
@pytest.mark.parametrize("near_miss", ["", "PROD", "Staging", " prod", "prod ", "dev", "staging\n"])
def test_only_the_exact_name_confirms(environment, near_miss):
    assert gate.confirmed(environment, environment)
    if near_miss != environment:
        assert not gate.confirmed(environment, near_miss)
        with pytest.raises(GuardError, match=f"pass confirm={environment!r}"):
            gate.require_confirm(environment, near_miss, "the change")


def test_an_unprotected_environment_goes_ahead_with_any_text_but_not_with_always():
    assert gate.confirmed("dev", "")
    assert gate.confirmed("dev", "anything")
    assert not gate.confirmed("dev", "", always=True)
    assert gate.confirmed("dev", "dev", always=True)


@pytest.mark.parametrize("value", [None, 1, True, ["prod"], b"prod"])
def test_confirm_that_is_not_text_is_a_parameter_error(value):
    with pytest.raises(ParameterError, match="expected the environment name as text"):
        gate.check_confirm_text(value)
    with pytest.raises(ParameterError):
        gate.require_confirm("dev", value, "the change")
