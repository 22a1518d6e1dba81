"""Durations out of range (log windows, timeouts, poll intervals) are refused naming the parameter and the limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tradai_nb.errors import ParameterError
from tradai_nb.ops import logs
from tradai_nb.ops._common import MAX_SECONDS, check_choice, check_seconds


@pytest.mark.parametrize(("since", "reason"), [
    ("99999999999w", "longer than 3653d, the longest CloudWatch Logs keeps events"),
    ("523w", "longer than 3653d"),
    ("3654d", "longer than 3653d"),
    ("9" * 5000 + "s", "longer than 3653d"),
    ("-5m", "written without a sign"),
    ("0m", "zero is an empty window"),
    ("000s", "zero is an empty window"),
    ("nonsense", "got 'nonsense'"),
    ("5 minutes", "got '5 minutes'"),
    (None, "got None"),
    (10 ** 5000, "got a number of 16610 bits"),
], ids=["huge-weeks", "just-over-in-weeks", "just-over-in-days", "thousands-of-digits", "negative", "zero",
        "zeros", "nonsense", "spelled-out", "none", "huge-number"])
def test_since_out_of_range__is_refused_naming_since_and_the_limit(since, reason):
    with pytest.raises(ParameterError) as caught:
        logs.parse_since(since)
    assert caught.value.name == "since"
    message = str(caught.value)
    assert message.startswith("parameter 'since': expected a duration such as 30m, 2h or 1d")
    assert "of at most 3653d" in message
    assert reason in message
    assert len(message) < 400


@pytest.mark.parametrize(("since", "expected"), [
    ("3653d", timedelta(days=3653)), ("521w", timedelta(weeks=521)), ("1s", timedelta(seconds=1)),
    ("007m", timedelta(minutes=7)),
], ids=["longest-in-days", "longest-in-weeks", "shortest", "leading-zeros"])
def test_since_within_range__is_read(since, expected):
    assert logs.parse_since(since) == expected
    assert logs.MAX_SINCE == timedelta(days=3653)


def test_logs_parameters__refuse_a_huge_since_before_any_aws_call(settings_of, untouchable_session):
    with pytest.raises(ParameterError, match="longer than 3653d") as caught:
        logs.tail_logs(untouchable_session, settings_of("local"), since="99999999999w")
    assert caught.value.name == "since"
    untouchable_session.client.assert_not_called()


@pytest.mark.parametrize(("value", "reason"), [
    (float("nan"), "got nan: not a number"),
    (float("inf"), "got inf: not a finite number"),
    (float("-inf"), "got -inf: not a finite number"),
    (-1, "got -1: a duration cannot be negative"),
    (True, "got True: True/False is not a number of seconds"),
    (False, "got False: True/False is not a number of seconds"),
    (0, "got 0: zero leaves no time at all"),
    (MAX_SECONDS + 1, "got 86401.0: more than 24 h"),
    (1e308, "more than 24 h"),
    (10 ** 5000, "got an integer of 16610 bits: more than 24 h"),
    ("600", "got '600'"),
    (None, "got None"),
], ids=["nan", "inf", "minus-inf", "negative", "true", "false", "zero", "just-over-a-day", "huge-float",
        "thousands-of-digits", "text", "none"])
def test_bad_timeout__is_refused_naming_the_parameter_and_the_limit(value, reason):
    with pytest.raises(ParameterError) as caught:
        check_seconds("timeout_s", value)
    assert caught.value.name == "timeout_s"
    message = str(caught.value)
    assert message.startswith("parameter 'timeout_s': expected a number of seconds, more than zero and at most 86400 "
                              "(24 h); ")
    assert reason in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, True], ids=["nan", "inf", "negative", "true"])
def test_bad_poll_interval__is_refused_even_where_zero_is_allowed(value):
    with pytest.raises(ParameterError, match=r"parameter 'poll_s': expected a number of seconds, zero or more") \
            as caught:
        check_seconds("poll_s", value, allow_zero=True)
    assert caught.value.name == "poll_s"


@pytest.mark.parametrize(("value", "allow_zero"), [(0.5, False), (600, False), (MAX_SECONDS, False), (0, True)],
                         ids=["fraction", "minutes", "a-day", "zero-where-allowed"])
def test_sane_seconds__are_read_as_floats(value, allow_zero):
    assert check_seconds("timeout_s", value, allow_zero=allow_zero) == float(value)


def test_caller_limit__is_stated_in_the_refusal():
    with pytest.raises(ParameterError, match=r"at most 3600 \(1 h\); got 3601: more than 1 h") as caught:
        check_seconds("follow_s", 3601, allow_zero=True, maximum=3600)
    assert caught.value.name == "follow_s"


@pytest.mark.parametrize(("follow_s", "poll_s", "name"), [
    (float("nan"), 5, "follow_s"), (float("inf"), 5, "follow_s"), (10, float("nan"), "poll_s"), (10, True, "poll_s"),
], ids=["nan-follow", "inf-follow", "nan-poll", "bool-poll"])
def test_log_follow__refuses_non_finite_values_before_any_aws_call(settings_of, untouchable_session, follow_s,
                                                                    poll_s, name):
    with pytest.raises(ParameterError) as caught:
        logs.tail_logs(untouchable_session, settings_of("local"), follow_s=follow_s, poll_s=poll_s)
    assert caught.value.name == name
    untouchable_session.client.assert_not_called()


def test_choice_refusal__shows_a_huge_value_cut_short():
    with pytest.raises(ParameterError, match=r"parameter 'action': 'xxxx.*\.\.\. is not one of status, list") as caught:
        check_choice("action", "x" * 10_000, ["status", "list"])
    assert caught.value.name == "action"
    assert len(str(caught.value)) < 200
