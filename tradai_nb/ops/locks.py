"""State locks: the backend's lock files (who, where, since when), and clearing a stale one with confirmation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pandas as pd

from tradai_nb import config
from tradai_nb.errors import GuardError, ParameterError
from tradai_nb.records import gate
from tradai_nb.settings import Settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend
from tradai_nb.state.backend import StateLock, StateStore

ACTIONS = ("list", "clear")
DEFAULT_OLDER_THAN_MINUTES = 60
LOCK_COLUMNS = ["stack", "lock_id", "held_by", "host", "pid", "since", "age"]
CLEARED_COLUMNS = ["stack", "lock_id", "held_by", "host", "age", "result"]

OnOutput = Callable[[str], Any]


def list_locks(
    session: boto3.Session, settings: Settings, *, stack: str = "", now: datetime | None = None
) -> pd.DataFrame:
    """The lock files of the environment's stacks (or of one): stack, lock id, holder, host, pid, since, age."""
    wanted = {backend.stack_ref(name, settings.environment) for name in backend.select_stacks(stack)}
    now = now or datetime.now(UTC)
    state = backend.state_store_for(settings, session)
    locks = [lock for lock in state.locks() if lock.ref in wanted]
    rows = [_row(lock, now) for lock in sorted(locks, key=lambda lock: (lock.ref, lock.lock_id))]
    return pd.DataFrame(rows, columns=LOCK_COLUMNS).astype({"pid": "Int64"})


def clear_stale_locks(
    session: boto3.Session,
    settings: Settings,
    *,
    stack: str,
    confirm: str,
    older_than_minutes: int = DEFAULT_OLDER_THAN_MINUTES,
    lock_id: str = "",
    now: datetime | None = None,
    on_output: OnOutput = print,
) -> pd.DataFrame:
    """Delete the lock files of one stack (or the one named lock_id), all of them older than older_than_minutes.

    Needs confirm == the environment on every environment: a lock held by a live update protects the state, and
    removing it lets a second update write over the first. Nothing is deleted if any targeted lock is too recent.
    """
    if stack not in stacks.names():
        raise ParameterError(
            f"parameter 'stack': {stack!r} is not a stack; choose one of {', '.join(stacks.names())}", name="stack"
        )
    if isinstance(older_than_minutes, bool) or not isinstance(older_than_minutes, int) or older_than_minutes < 1:
        raise ParameterError(
            f"parameter 'older_than_minutes': expected a whole number of minutes, 1 or more "
            f"(got {older_than_minutes!r})",
            name="older_than_minutes",
        )
    now = now or datetime.now(UTC)
    ref = backend.stack_ref(stack, settings.environment)
    state = backend.state_store_for(settings, session)
    targets: list[StateLock] = []

    def only_stale_locks() -> None:
        # Read after the confirm rule has passed: nothing is asked of AWS before the guard.
        targets.extend(lock for lock in state.locks(ref) if not lock_id or lock.lock_id == lock_id)
        threshold = timedelta(minutes=older_than_minutes)
        recent = [lock for lock in targets if (age := lock.age(now)) is None or age < threshold]
        if recent:
            described = "; ".join(
                f"{lock.lock_id} by {lock.username}@{lock.hostname}, {_age_text(lock.age(now)) or 'age unknown'}"
                for lock in recent
            )
            raise GuardError(
                f"refusing to clear: lock(s) on {ref.fully_qualified} are younger than older_than_minutes="
                f"{older_than_minutes} or carry no timestamp ({described}); the update may still be running. Nothing "
                "was deleted. Wait for it to end, or lower older_than_minutes once you know it died",
                name="older_than_minutes",
            )

    with gate.change(
        settings,
        "state.lock-delete",
        target=ref.fully_qualified,
        confirm=confirm,
        parameters={"stack": stack, "lock_id": lock_id, "older_than_minutes": older_than_minutes},
        checks=[only_stale_locks],
        on_output=on_output,
    ):
        return _clear(state, settings, ref, targets, lock_id, now, confirm, on_output)


def _clear(
    state,
    settings: Settings,
    ref,
    targets: list[StateLock],
    lock_id: str,
    now: datetime,
    confirm: str,
    on_output: OnOutput,
) -> pd.DataFrame:
    if not targets:
        held = ", ".join(lock.lock_id for lock in state.locks(ref)) or "none"
        on_output(f"no lock {lock_id or 'file'} on {ref.fully_qualified} (locks there: {held}); nothing to clear")
        return pd.DataFrame(columns=CLEARED_COLUMNS)
    rows = []
    for lock in targets:
        delete_lock(state, lock, settings, confirm=confirm)
        on_output(f"cleared {lock.url}")
        rows.append((ref.stack_name, lock.lock_id, lock.username, lock.hostname, _age_text(lock.age(now)), "cleared"))
    return pd.DataFrame(rows, columns=CLEARED_COLUMNS)


def delete_lock(state: StateStore, lock: StateLock, settings: Settings, *, confirm: str = "") -> None:
    """Delete one lock file of the settings' environment: always needs confirm=<environment> (a live update's
    lock protects the state), and is recorded."""

    def of_this_environment() -> None:
        if lock.ref.stack != settings.environment:
            raise GuardError(
                f"lock {lock.url} belongs to {lock.ref.fully_qualified}, not to "
                f"{settings.environment}; open the state of that environment",
                name="lock_id",
            )

    with gate.change(
        settings,
        "state.lock-delete",
        target=lock.ref.fully_qualified,
        confirm=confirm,
        parameters={"lock": lock.url, "held_by": f"{lock.username}@{lock.hostname}"},
        checks=[of_this_environment],
    ):
        state.objects.delete(lock.key)


def cancel_advice(settings: Settings, stack: str = "") -> str:
    """How to release a lock with the Pulumi CLI instead, and what to check after any lock is cleared."""
    shown = stack or "<stack>"
    project = config.get_stack_project(stack) if stack else "tradai-<stack>"
    confirm = f" --confirm {settings.environment}" if gate.needs_confirm(settings.environment) else ""
    return (
        f"With the Pulumi CLI: `pulumi cancel --stack organization/{project}/{settings.environment}` (or "
        f"`tradai-nb stack cancel --stack {shown} --env {settings.environment}{confirm}`) deletes every lock file of "
        "the stack at once, whatever its age and whoever holds it. This runbook deletes only locks older than "
        "older_than_minutes. Either way, afterwards: run the drift runbook (refresh preview) for that stack, and "
        "check pending_operations in the state backup runbook's stack table; an update killed mid-way can leave "
        "resources that were created but not recorded."
    )


def check_parameters(settings: Settings, *, action: str, stack: str, confirm: str) -> None:
    """Validate the state locks runbook's action and its guard rail, before any AWS call (the clear's own gate
    checks it again)."""
    if action not in ACTIONS:
        raise ParameterError(
            f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}", name="action"
        )
    if action == "clear":
        target = backend.stack_ref(stack, settings.environment).fully_qualified if stack in stacks.names() else stack
        gate.precheck(settings, "state.lock-delete", target=target, confirm=confirm)


def run_runbook(
    session: boto3.Session,
    settings: Settings,
    *,
    action: str = "list",
    stack: str = "",
    lock_id: str = "",
    older_than_minutes: int = DEFAULT_OLDER_THAN_MINUTES,
    confirm: str = "",
    on_output: OnOutput = print,
) -> pd.DataFrame:
    """The state locks runbook: list the locks (default; of one stack when `stack` is set) or clear the stale ones
    of one stack."""
    if action not in ACTIONS:
        raise ParameterError(
            f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}", name="action"
        )
    if action == "clear":
        if not stack:
            raise ParameterError(
                f"parameter 'stack': action 'clear' needs the stack whose lock to clear ({', '.join(stacks.names())})",
                name="stack",
            )
        return clear_stale_locks(
            session,
            settings,
            stack=stack,
            confirm=confirm,
            older_than_minutes=older_than_minutes,
            lock_id=lock_id,
            on_output=on_output,
        )
    locks = list_locks(session, settings, stack=stack)
    on_output(f"{len(locks)} lock(s) on {backend.state_store_for(settings, session).url}")
    return locks


def _row(lock: StateLock, now: datetime) -> tuple:
    return (
        lock.ref.stack_name,
        lock.lock_id,
        lock.username,
        lock.hostname,
        lock.pid,
        backend.format_time(lock.timestamp) if lock.timestamp else "",
        _age_text(lock.age(now)),
    )


def _age_text(age: timedelta | None) -> str:
    if age is None:
        return ""
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
