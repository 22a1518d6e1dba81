"""The change gate: every function that changes AWS or Pulumi state passes it first — its guard, then a record
written ahead of the change — whoever calls it."""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tradai_nb import config
from tradai_nb.errors import AuditStoreError, GuardError, ParameterError, PolicyViolationError, TradaiError
from tradai_nb.records import anchoring, provenance
from tradai_nb.records.audit import STARTED, AuditRecord, AuditStore, timestamp
from tradai_nb.redaction import Redactor, check_secret_strength
from tradai_nb.settings import Settings
from tradai_nb.timefmt import parse_iso

# Who must confirm a change: staging and prod only, every environment, or nobody (additive changes).
CONFIRM_PROTECTED = "protected"
CONFIRM_ALWAYS = "always"
CONFIRM_NEVER = "never"
REFUSALS = (GuardError, ParameterError, PolicyViolationError)


@dataclass(frozen=True)
class ChangeRule:
    """How one kind of change is guarded: who confirms it, and what to run first to see what it would do."""

    what: str
    confirm: str
    hint: str


_PREVIEW_FIRST = "run action='preview' first to see what would change"
_READ_ONLY_FIRST = "run the read-only default action first to see what it would change"
_DRY_RUN_FIRST = "run with dry_run=True first to see what would change"

# Every kind of change tradai-nb makes. The functions that make them open `change(settings, <key>, ...)` first.
CHANGES: dict[str, ChangeRule] = {
    "stack.up": ChangeRule("deploying stack {target}", CONFIRM_PROTECTED, _PREVIEW_FIRST),
    "stack.refresh": ChangeRule("refreshing the state of stack {target}", CONFIRM_PROTECTED, _PREVIEW_FIRST),
    "stack.destroy": ChangeRule("destroying stack {target}", CONFIRM_PROTECTED, _PREVIEW_FIRST),
    "stack.import": ChangeRule(
        "importing a state into stack {target}",
        CONFIRM_PROTECTED,
        "export the current state first (action='export') so it can be put back",
    ),
    "stack.import-resource": ChangeRule(
        "importing an existing resource into stack {target}", CONFIRM_PROTECTED, _DRY_RUN_FIRST
    ),
    "stack.init": ChangeRule(
        "creating the stacks of {target} on its backend",
        CONFIRM_PROTECTED,
        "run `tradai-nb stack ls --env <env>` first to see which stacks exist",
    ),
    "stack.cancel": ChangeRule(
        "cancelling the update of stack {target}",
        CONFIRM_PROTECTED,
        "list the stack's locks first (state locks runbook) to see who holds it",
    ),
    "ecs.force-redeploy": ChangeRule("forcing a new deployment of {target}", CONFIRM_PROTECTED, _READ_ONLY_FIRST),
    "ecs.rollback": ChangeRule("rolling back service {target}", CONFIRM_PROTECTED, _DRY_RUN_FIRST),
    "asg.instance-refresh": ChangeRule("refreshing the instances of {target}", CONFIRM_PROTECTED, _READ_ONLY_FIRST),
    "ecr.push": ChangeRule("pushing image {target}", CONFIRM_PROTECTED, _READ_ONLY_FIRST),
    "host.command": ChangeRule("running commands on {target}", CONFIRM_PROTECTED, _READ_ONLY_FIRST),
    "state.lock-delete": ChangeRule(
        "clearing a state lock of {target}",
        CONFIRM_ALWAYS,
        "make sure the update that took the lock is no longer running (ask its holder, check its CI job)",
    ),
    "state.backup": ChangeRule("backing up the state of {target}", CONFIRM_NEVER, ""),
    "rollback.state-import": ChangeRule("restoring stack {target} from a backup", CONFIRM_PROTECTED, _DRY_RUN_FIRST),
    "rollback.git-revision": ChangeRule("redeploying {target} as of a git revision", CONFIRM_PROTECTED, _DRY_RUN_FIRST),
    "rds.snapshot": ChangeRule("taking a snapshot of database {target}", CONFIRM_NEVER, ""),
    "rds.reboot-failover": ChangeRule("rebooting database {target} with a failover", CONFIRM_PROTECTED, _DRY_RUN_FIRST),
    "rds.restore": ChangeRule(
        "restoring a snapshot of database {target} to a new instance", CONFIRM_PROTECTED, _DRY_RUN_FIRST
    ),
}

# The change being made in this context, so that changes it makes in turn name it as their parent.
_enclosing: contextvars.ContextVar[str | None] = contextvars.ContextVar("tradai_enclosing_change", default=None)


@dataclass(frozen=True)
class Change:
    """A change the gate let through, while it runs: its record id and its started record."""

    id: str
    started: AuditRecord


def check_confirm_text(confirm: object) -> str:
    """confirm as given when it is text (empty included), else a ParameterError: what every runbook and stack action
    checks of the parameter before deciding anything."""
    if not isinstance(confirm, str):
        raise ParameterError(
            f"parameter 'confirm': expected the environment name as text, got {confirm!r}", name="confirm"
        )
    return confirm


def needs_confirm(environment: str, *, always: bool = False) -> bool:
    """Whether a change in the environment must be confirmed: staging and prod, or every environment (`always`)."""
    return always or environment in config.PROTECTED_ENVIRONMENTS


def confirmed(environment: str, confirm: str, *, always: bool = False) -> bool:
    """The confirm rule: the change may go ahead when it needs no confirmation or `confirm` is exactly the
    environment's name — no other case, no spaces."""
    return not needs_confirm(environment, always=always) or confirm == environment


def require_confirm(environment: str, confirm: object, what: str, *, always: bool = False, hint: str = "") -> None:
    """The confirm rule (see confirmed), raising GuardError with what to pass when it is not met; confirm that is
    not text is a ParameterError. Checked before anything is touched."""
    if not confirmed(environment, check_confirm_text(confirm), always=always):
        raise GuardError(
            f"{what} changes {environment}: pass confirm={environment!r} (--confirm {environment} on the command "
            f"line) to go ahead (got {confirm!r})" + (f"; {hint}" if hint else ""),
            name="confirm",
        )


def precheck(settings: Settings, action: str, *, target: str, confirm: object, record: bool = True) -> None:
    """The confirm rule of a kind of change, checked early (before a notebook reads AWS, before a kernel starts)
    for a prompt refusal; a refusal is recorded unless `record` is False (a run that records it itself). The
    change's own gate checks it again."""
    rule = CHANGES[action]
    if rule.confirm == CONFIRM_NEVER:
        return
    try:
        require_confirm(
            settings.environment,
            confirm,
            rule.what.format(target=target),
            always=rule.confirm == CONFIRM_ALWAYS,
            hint=rule.hint,
        )
    except REFUSALS as refusal:
        if record:
            store, base, redactor, origin = _opening(settings, action, target, {"confirm": confirm})
            _record_stopped(store, settings, base, redactor, refusal, None, _kept_notebook(origin, redactor))
        raise


@contextmanager
def change(
    settings: Settings,
    action: str,
    *,
    target: str,
    confirm: object = "",
    parameters: Mapping[str, Any] | None = None,
    checks: Sequence[Callable[[], None]] = (),
    on_output: Callable[[str], Any] | None = None,
) -> Iterator[Change]:
    """Guard a change, then record it ahead. The confirm rule and `checks` (each raising GuardError or ParameterError
    to refuse, any other TradaiError when the change cannot go ahead) run first; what stops the change there is
    recorded and raised. Then a `started` record is durably appended — if it cannot be, AuditStoreError is raised and
    nothing is touched — and the block runs; its outcome (succeeded, failed, or refused by a check inside it) is
    appended after it. Records from a notebook keep the notebook as it is at that moment (see provenance.snapshot)."""
    rule = CHANGES[action]
    what = rule.what.format(target=target)
    store, base, redactor, origin = _opening(settings, action, target, {**dict(parameters or {}), "confirm": confirm})
    started_at, record_id = parse_iso(base["start"]), base["id"]
    notebook = _kept_notebook(origin, redactor)
    try:
        for warning in check_secret_strength(settings.environment, redactor):
            _say(on_output, f"warning: {warning}")
        if rule.confirm != CONFIRM_NEVER:
            require_confirm(settings.environment, confirm, what, always=rule.confirm == CONFIRM_ALWAYS, hint=rule.hint)
        for check in checks:
            check()
    except TradaiError as stopped:
        # Nothing was touched: a refusal, or a check that could not pass (an image missing), is one record.
        _record_stopped(store, settings, base, redactor, stopped, on_output, notebook)
        raise
    started = store.append({**base, "status": STARTED, "end": None, "duration_s": None, "error": None}, notebook)
    # A failed upload is retried with the outcome's, and said once, then.
    _anchor(store, settings, None, warn=False)
    token = _enclosing.set(record_id)
    try:
        yield Change(record_id, started)
    except BaseException as exc:
        _enclosing.reset(token)
        status = "refused" if isinstance(exc, REFUSALS) else "failed"
        _record_outcome(store, settings, base, redactor, started_at, status, describe(exc), on_output)
        raise
    _enclosing.reset(token)
    _record_outcome(store, settings, base, redactor, started_at, "succeeded", None, on_output)


def _opening(
    settings: Settings, action: str, target: str, recorded: Mapping[str, Any]
) -> tuple[AuditStore, dict[str, Any], Redactor, str]:
    """The store, the fields every record of this change shares, the redactor for them, and the origin."""
    origin = provenance.current()
    redactor = Redactor.for_run(recorded)
    store = AuditStore.for_settings(settings)
    started_at = datetime.now(UTC)
    base = {
        "id": store.new_id(started_at, f"{action}-{target}"),
        "kind": "change",
        "origin": origin.origin,
        "action": action,
        "target": redactor.scrub(target),
        "environment": settings.environment,
        "operator": redactor.scrub(origin.operator),
        "host": redactor.scrub(origin.host),
        "git_commit": origin.git_commit,
        "git_dirty": origin.git_dirty,
        "notebook": redactor.scrub(origin.notebook) if origin.notebook else None,
        "parameters": redactor.parameters(recorded),
        "start": timestamp(started_at),
        "stage": None,
        "parent": _enclosing.get() or origin.run_id,
    }
    return store, base, redactor, origin.origin


def describe(error: BaseException) -> dict[str, Any]:
    """The error summary a record keeps: exception name and message."""
    return {"ename": type(error).__name__, "evalue": str(error), "cell": None}


def _kept_notebook(origin: str, redactor: Redactor) -> dict[str, Any] | None:
    snapshot = provenance.snapshot(origin)
    return redactor.scrub_notebook(snapshot) if snapshot is not None else None


def _record_stopped(
    store: AuditStore,
    settings: Settings,
    base: dict[str, Any],
    redactor: Redactor,
    stopped: BaseException,
    on_output: Callable[[str], Any] | None,
    notebook: dict[str, Any] | None,
) -> None:
    ended = datetime.now(UTC)
    status = "refused" if isinstance(stopped, REFUSALS) else "failed"
    try:
        store.append(
            {
                **base,
                "status": status,
                "end": timestamp(ended),
                "duration_s": 0.0,
                "error": redactor.scrub(describe(stopped)),
            },
            notebook,
        )
    except AuditStoreError as exc:
        raise AuditStoreError(f"{exc}. The change did not go ahead anyway: {stopped}") from stopped
    _anchor(store, settings, on_output)


def _record_outcome(
    store: AuditStore,
    settings: Settings,
    base: dict[str, Any],
    redactor: Redactor,
    started_at: datetime,
    status: str,
    error: dict[str, Any] | None,
    on_output: Callable[[str], Any] | None,
) -> None:
    ended = datetime.now(UTC)
    try:
        store.append(
            {
                **base,
                "status": status,
                "end": timestamp(ended),
                "duration_s": round((ended - started_at).total_seconds(), 3),
                "error": redactor.scrub(error) if error else None,
            }
        )
    except AuditStoreError as exc:
        # The change has happened; its started record says so. Losing the outcome must not hide the change's own
        # result (or error) from the caller.
        _say(on_output, f"warning: the outcome ({status}) of {base['id']} could not be recorded: {exc}")
        return
    _anchor(store, settings, on_output)


def _anchor(
    store: AuditStore, settings: Settings, on_output: Callable[[str], Any] | None, *, warn: bool = True
) -> None:
    uploaded = anchoring.upload_pending(store, settings)
    if uploaded.error and warn:
        _say(
            on_output,
            f"warning: the audit record is kept in {store.index} but its upload to s3://{uploaded.bucket} "
            f"failed ({uploaded.error}); the next record's upload retries it",
        )


def _say(on_output: Callable[[str], Any] | None, line: str) -> None:
    if on_output is not None:
        on_output(line)
    else:
        print(line, file=sys.stderr)
