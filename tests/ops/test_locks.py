"""State locks in the sandbox's state bucket (over HTTP): listing with age, clearing only with confirm and past the
threshold. Tests make and clear their own locks on the edge stack; the seeded lock on compute stays."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tradai_nb.errors import GuardError, ParameterError
from tradai_nb.ops import locks
from tradai_nb.sandbox import rehearsal_data
from tradai_nb.settings import load_settings
from tradai_nb.state import backend

EDGE = backend.stack_ref("edge", "local")


def quiet(_: str) -> None:
    """Swallows progress lines."""


@pytest.fixture
def state(sandbox):
    store = backend.state_store_for(sandbox.settings, sandbox.session)
    yield store
    for lock in store.locks(EDGE):
        locks.delete_lock(store, lock, sandbox.settings, confirm="local")


def put_lock(state, lock_id: str, age: timedelta | None) -> None:
    if age is None:
        state.objects.write(backend.lock_key(EDGE, lock_id), b'{"pid": 1, "username": "x", "hostname": "y"}')
    else:
        state.write_lock(EDGE, lock_id, pid=4321, username="ana", hostname="laptop-3",
                         timestamp=datetime.now(timezone.utc) - age)


def test_list__shows_the_seeded_stale_lock_with_holder_and_age(sandbox):
    table = locks.run_runbook(sandbox.session, sandbox.settings, on_output=quiet)

    [row] = table[table["stack"] == rehearsal_data.SEEDED_LOCK_STACK].to_dict("records")
    assert (row["held_by"], row["host"], row["pid"]) == ("ci-deployer", "build-agent-7", 48213)
    since = datetime.fromisoformat(row["since"].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) - since >= timedelta(hours=2)
    hours = re.fullmatch(r"(\d+) h \d{2} min", row["age"])
    assert hours and int(hours.group(1)) >= 2


def test_clear__without_confirm_is_refused_even_on_local(sandbox, state):
    put_lock(state, "old", timedelta(hours=2))

    with pytest.raises(GuardError) as refused:
        locks.clear_stale_locks(sandbox.session, sandbox.settings, stack="edge", confirm="", on_output=quiet)

    assert refused.value.name == "confirm"
    assert [lock.lock_id for lock in state.locks(EDGE)] == ["old"]


def test_clear__a_lock_younger_than_the_threshold_stops_everything(sandbox, state):
    put_lock(state, "old", timedelta(hours=2))
    put_lock(state, "young", timedelta(minutes=5))

    with pytest.raises(GuardError, match="young by ana@laptop-3, 5 min") as refused:
        locks.clear_stale_locks(sandbox.session, sandbox.settings, stack="edge", confirm="local",
                                older_than_minutes=60, on_output=quiet)

    assert refused.value.name == "older_than_minutes"
    assert sorted(lock.lock_id for lock in state.locks(EDGE)) == ["old", "young"]


def test_clear__removes_the_named_stale_lock_and_only_it(sandbox, state):
    put_lock(state, "old", timedelta(hours=2))
    put_lock(state, "young", timedelta(minutes=5))

    cleared = locks.clear_stale_locks(sandbox.session, sandbox.settings, stack="edge", confirm="local",
                                      older_than_minutes=60, lock_id="old", on_output=quiet)

    assert cleared[["stack", "lock_id", "held_by", "age", "result"]].values.tolist() == [
        ["edge", "old", "ana", "2 h 00 min", "cleared"]]
    assert [lock.lock_id for lock in state.locks(EDGE)] == ["young"]
    assert len(state.locks(backend.stack_ref(rehearsal_data.SEEDED_LOCK_STACK, "local"))) == 1


def test_clear__a_lock_without_a_timestamp_is_never_old_enough(sandbox, state):
    put_lock(state, "undated", None)

    with pytest.raises(GuardError, match="undated by x@y, age unknown"):
        locks.clear_stale_locks(sandbox.session, sandbox.settings, stack="edge", confirm="local",
                                older_than_minutes=1, on_output=quiet)

    assert [lock.lock_id for lock in state.locks(EDGE)] == ["undated"]


def test_clear__no_lock_on_the_stack_clears_nothing(sandbox, state):
    messages = []

    cleared = locks.clear_stale_locks(sandbox.session, sandbox.settings, stack="edge", confirm="local",
                                      on_output=messages.append)

    assert cleared.empty and "nothing to clear" in messages[0]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"action": "unlock"}, "action"), ({"action": "clear", "confirm": "local"}, "stack"),
     ({"action": "clear", "stack": "network", "confirm": "local"}, "stack"),
     ({"action": "clear", "stack": "edge", "confirm": "local", "older_than_minutes": 0}, "older_than_minutes"),
     ({"action": "list", "stack": "network"}, "stack")],
    ids=["unknown-action", "clear-without-stack", "unknown-stack", "zero-threshold", "list-unknown-stack"],
)
def test_runbook__bad_parameters_are_named(sandbox, kwargs, name):
    with pytest.raises(ParameterError) as raised:
        locks.run_runbook(sandbox.session, sandbox.settings, on_output=quiet, **kwargs)

    assert raised.value.name == name


def test_cancel_advice__names_the_cli_command_with_confirm_where_needed():
    advice = locks.cancel_advice(load_settings("prod"), "compute")

    assert "pulumi cancel --stack organization/tradai-compute/prod" in advice
    assert "tradai-nb stack cancel --stack compute --env prod --confirm prod" in advice
