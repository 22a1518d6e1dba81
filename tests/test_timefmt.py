"""The one ISO 8601 parser, and the callers that wrap it keep their own answer to text that is not a time."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tradai_nb.commands import audit as audit_command
from tradai_nb.state import backend
from tradai_nb.timefmt import parse_iso


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:30:00Z", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("2026-03-01T12:30:00.250Z", datetime(2026, 3, 1, 12, 30, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T14:30:00+02:00", datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-03-01T12:30:00", datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_an_iso_time_comes_back_aware(text, expected):
    moment = parse_iso(text)
    assert moment == expected
    assert moment.tzinfo is not None


def test_an_offset_is_kept_as_the_same_instant():
    assert parse_iso("2026-03-01T14:30:00+02:00") == parse_iso("2026-03-01T12:30:00Z")


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", "12:30"])
def test_text_that_is_not_a_time_raises_value_error(text):
    with pytest.raises(ValueError):
        parse_iso(text)


@pytest.mark.parametrize("value", [None, "", "not a time", 1700000000, ["2026-03-01"]])
def test_the_state_backend_reads_a_bad_lock_time_as_none(value):
    assert backend.parse_time(value) is None


def test_the_state_backend_reads_a_time_it_wrote():
    moment = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    assert backend.parse_time(backend.format_time(moment)) == moment


def test_the_audit_since_option_names_the_bad_text():
    assert audit_command._since("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError, match="'soon' is not a date"):
        audit_command._since("soon")
