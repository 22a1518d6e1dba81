"""Log tails against the sandbox's seeded log group: windows, pages, filters and a bounded follow."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tradai_nb import config
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops import logs
from tradai_nb.sandbox.rehearsal_data import LOG_EVENTS_PER_STREAM

pytestmark = pytest.mark.sandbox

CONTAINERS = sorted(str(spec["container"]) for spec in config.SERVICES.values())


@pytest.mark.parametrize("since, expected", [
    ("45s", timedelta(seconds=45)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
    ("1d", timedelta(days=1)), ("1w", timedelta(weeks=1)), (" 90m ", timedelta(minutes=90)),
], ids=["seconds", "minutes", "hours", "days", "weeks", "spaces"])
def test_parse_since__reads_a_duration(since, expected):
    assert logs.parse_since(since) == expected


@pytest.mark.parametrize("since", ["", "30", "m", "0m", "1y", "-5m", "1.5h", 30],
                         ids=["empty", "no-unit", "no-number", "zero", "unknown-unit", "negative", "fraction", "number"])
def test_parse_since__refuses_anything_else_naming_the_parameter(since):
    with pytest.raises(ParameterError, match="parameter 'since': expected a duration such as 30m") as caught:
        logs.parse_since(since)
    assert caught.value.name == "since"


def test_tail_logs__returns_every_seeded_event_across_pages(sandbox):
    tail = logs.tail_logs(sandbox.session, sandbox.settings, since="1h", page_size=25)

    assert dict(tail.per_stream.itertuples(index=False)) == {c: LOG_EVENTS_PER_STREAM for c in CONTAINERS}
    # A first group-wide page shows there is more, then 120 events per stream in pages of 25: five per stream.
    assert tail.pages_read == 1 + 4 * 5
    assert tail.events["time"].is_monotonic_increasing
    assert tail.events["message"].str.startswith(tuple(config.SERVICES)).all()


@pytest.fixture
def filter_queries(sandbox):
    """The logStreamNames of each filter_log_events request made through the sandbox session (None: group-wide)."""
    queries = []

    def record(params, **_):
        queries.append(params.get("logStreamNames"))

    sandbox.session.events.register("before-parameter-build.logs.FilterLogEvents", record)
    try:
        yield queries
    finally:
        sandbox.session.events.unregister("before-parameter-build.logs.FilterLogEvents", record)


def test_tail_logs__a_window_of_several_pages_is_read_stream_by_stream(sandbox, filter_queries):
    tail = logs.tail_logs(sandbox.session, sandbox.settings, since="1h", page_size=100)

    # Each stream's query repeats once per page it reads; every stream is read by name after the first page.
    assert filter_queries[0] is None and None not in filter_queries[1:]
    assert sorted({name for streams in filter_queries[1:] for name in streams}) == CONTAINERS
    assert len(tail.events) == tail.events.drop_duplicates().shape[0] == 4 * LOG_EVENTS_PER_STREAM


def test_tail_logs__a_window_of_one_page_is_one_query(sandbox, filter_queries):
    tail = logs.tail_logs(sandbox.session, sandbox.settings, since="1h")

    assert filter_queries == [None]
    assert (tail.pages_read, len(tail.events)) == (1, 4 * LOG_EVENTS_PER_STREAM)


def test_tail_logs__filter_pattern_keeps_the_matching_events(sandbox):
    tail = logs.tail_logs(sandbox.session, sandbox.settings, since="1h", filter_pattern="ERROR", page_size=7)

    # One seeded line in six is an ERROR line.
    assert dict(tail.per_stream.itertuples(index=False)) == {c: LOG_EVENTS_PER_STREAM // 6 for c in CONTAINERS}
    assert tail.events["message"].str.contains("ERROR upstream timeout").all()
    # The group-wide first page, then 20 matching events per stream in pages of 7.
    assert tail.pages_read == 1 + 4 * 3


def test_tail_logs__a_short_window_leaves_older_events_out(sandbox):
    everything = logs.tail_logs(sandbox.session, sandbox.settings, since="1h")
    recent = logs.tail_logs(sandbox.session, sandbox.settings, since="5m")

    cutoff = recent.events["time"].min()
    assert 0 < len(recent.events) < len(everything.events)
    assert len(recent.events) == (everything.events["time"] >= cutoff).sum()


@pytest.fixture
def own_log_group(sandbox):
    """A log group of the test's own with three events; deleted afterwards, so the estate stays as seeded."""
    client = sandbox.session.client("logs")
    group = "/tradai/local/follow-check"
    client.create_log_group(logGroupName=group)
    client.create_log_stream(logGroupName=group, logStreamName="worker")
    now_ms = int(time.time() * 1000)
    client.put_log_events(logGroupName=group, logStreamName="worker", logEvents=[
        {"timestamp": now_ms - 3000 + n, "message": f"before follow {n}"} for n in range(3)])
    try:
        yield group
    finally:
        client.delete_log_group(logGroupName=group)


def test_tail_logs__follow_picks_up_events_that_arrive_meanwhile(sandbox, own_log_group):
    writer = sandbox.session.client("logs")
    written = []

    def write_after_the_first_read(**_):
        # Runs once the initial read has its answer: what it writes can only be found by following.
        if not written:
            written.append(True)
            writer.put_log_events(logGroupName=own_log_group, logStreamName="worker", logEvents=[
                {"timestamp": int(time.time() * 1000), "message": f"during follow {n}"} for n in range(2)])

    batches = []
    sandbox.session.events.register("after-call.logs.FilterLogEvents", write_after_the_first_read)
    try:
        tail = logs.tail_logs(sandbox.session, sandbox.settings, own_log_group, since="10m", follow_s=1, poll_s=0.25,
                              on_events=batches.append)
    finally:
        sandbox.session.events.unregister("after-call.logs.FilterLogEvents", write_after_the_first_read)

    assert list(tail.events["message"]) == [*(f"before follow {n}" for n in range(3)),
                                            *(f"during follow {n}" for n in range(2))]
    assert [list(batch["message"]) for batch in batches] == [["during follow 0", "during follow 1"]]


def test_tail_logs__unknown_log_group_is_a_clear_error(sandbox):
    with pytest.raises(OperationError, match="reading log group /tradai/local/nowhere: not found"):
        logs.tail_logs(sandbox.session, sandbox.settings, "/tradai/local/nowhere")


@pytest.mark.parametrize("follow_s, poll_s", [(-1, 5), (3601, 5), (10, 0), ("10", 5)],
                         ids=["negative-follow", "follow-too-long", "zero-poll", "text-follow"])
def test_tail_logs__bad_follow_is_refused_before_any_aws_call(sandbox, untouchable_session, follow_s, poll_s):
    with pytest.raises(ParameterError):
        logs.tail_logs(untouchable_session, sandbox.settings, follow_s=follow_s, poll_s=poll_s)
    untouchable_session.client.assert_not_called()
