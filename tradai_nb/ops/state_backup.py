"""State backups: every stack's deployment to timestamped files in the backup store, a manifest last, and checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pandas as pd

from tradai_nb.engine import automation
from tradai_nb.errors import CheckFailedError, OperationError, ParameterError, StateError, TradaiError
from tradai_nb.guards import check_deployment
from tradai_nb.records import gate
from tradai_nb.settings import Settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend
from tradai_nb.state.backend import ObjectStore, StackRef, StateStore

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
ACTIONS = ("list", "backup", "verify")
SOURCE_CHECKPOINT = "checkpoint"
SOURCE_AUTOMATION_API = "automation-api"
BACKUP_COLUMNS = ["backup_id", "status", "stacks", "resources", "size_bytes", "source", "reason"]
FILE_COLUMNS = ["stack", "file", "resources", "size_bytes", "sha256"]
CHECK_COLUMNS = ["stack", "file", "size_bytes", "checksum", "deployment", "status"]
_ID_FORMAT = "%Y%m%dT%H%M%SZ"
_MAX_SAME_SECOND_BACKUPS = 100

OnOutput = Callable[[str], Any]


@dataclass
class BackupResult:
    """A finished backup: its id, where it lives, what it holds (one row per stack), and where the state came from."""

    backup_id: str
    location: str
    files: pd.DataFrame
    source: str


@dataclass
class Verification:
    """The check of one backup: ok only when every file is present, matches its checksum and is a deployment."""

    backup_id: str
    ok: bool
    checks: pd.DataFrame


def backup_store(settings: Settings, session: boto3.Session | None) -> ObjectStore:
    """The store behind settings.state_backup_url (a bucket prefix for team environments, a folder for local)."""
    return backend.open_object_store(settings.state_backup_url, session)


def export_deployment(settings: Settings, state: StateStore, ref: StackRef) -> tuple[dict[str, Any], str]:
    """A stack's deployment as `pulumi stack export` prints it, and where it came from: the Automation API when it
    reads this environment's state (automation.reads_through_automation_api), else the backend's checkpoint."""
    if automation.reads_through_automation_api(settings):
        exported = automation.export(settings, ref.stack_name).deployment
        if exported is None:
            raise StateError(f"the Automation API export of {ref.fully_qualified} returned no deployment")
        return exported, SOURCE_AUTOMATION_API
    return state.read_deployment(ref), SOURCE_CHECKPOINT


def backup_state(
    session: boto3.Session,
    settings: Settings,
    *,
    stack_names: Sequence[str] | None = None,
    reason: str = "manual",
    on_output: OnOutput = print,
) -> BackupResult:
    """Back up the state of every deployed stack of the environment (or the named ones); the manifest goes last.
    It only adds files to the backup store, so it needs no confirmation; it is recorded like every change."""
    with gate.change(
        settings,
        "state.backup",
        target=", ".join(stack_names) if stack_names else "all stacks",
        parameters={"stacks": list(stack_names) if stack_names else None, "reason": reason},
        on_output=on_output,
    ):
        return _backup_state(session, settings, stack_names, reason, on_output)


def _backup_state(
    session: boto3.Session, settings: Settings, stack_names: Sequence[str] | None, reason: str, on_output: OnOutput
) -> BackupResult:
    state = backend.state_store_for(settings, session)
    deployed = backend.environment_stacks(state, settings.environment)
    wanted = [r for r in deployed if stack_names is None or r.stack_name in stack_names]
    if not wanted:
        named = f"stack(s) {', '.join(stack_names)}" if stack_names else "no stack"
        raise OperationError(
            f"{named} of {settings.environment} has state on {state.url}: nothing to back up. Check "
            f"pulumi_backend_url in params/{settings.environment}.yaml"
            + (" and that the sandbox is seeded (`tradai-nb sandbox seed`)" if settings.is_local else "")
        )
    target = backup_store(settings, session)
    created = datetime.now(UTC).replace(microsecond=0)
    backup_id = _new_backup_id(target, settings.environment, created)
    entries, sources = [], set()
    for ref in wanted:
        exported, source = export_deployment(settings, state, ref)
        sources.add(source)
        data = json.dumps(exported, indent=4).encode() + b"\n"
        file_name = f"{ref.stack_name}.json"
        target.write(_key(settings.environment, backup_id, file_name), data)
        entries.append(
            {
                "stack": ref.stack_name,
                "project": ref.project,
                "file": file_name,
                "resources": len(exported["deployment"].get("resources") or []),
                "size_bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        on_output(f"backed up {ref.fully_qualified}: {entries[-1]['resources']} resources")
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "backup_id": backup_id,
        "environment": settings.environment,
        "created": backend.format_time(created),
        "source": ", ".join(sorted(sources)),
        "state_url": state.url,
        "reason": reason,
        "stacks": entries,
    }
    # Written last: a backup without its manifest is listed as partial and never offered for a restore.
    target.write(_key(settings.environment, backup_id, MANIFEST_NAME), json.dumps(manifest, indent=2).encode())
    location = target.url_for(f"{settings.environment}/{backup_id}")
    on_output(f"backup {backup_id} complete: {len(entries)} stack(s) in {location}")
    files = pd.DataFrame([{c: e[c] for c in FILE_COLUMNS} for e in entries], columns=FILE_COLUMNS)
    return BackupResult(backup_id, location, files, manifest["source"])


def state_overview(session: boto3.Session, settings: Settings) -> pd.DataFrame:
    """The environment's stacks on its backend: resources, pending operations, last change, checkpoint."""
    return backend.state_store_for(settings, session).overview(settings.environment)


def list_backups(session: boto3.Session, settings: Settings) -> pd.DataFrame:
    """The environment's backups, newest first: complete (manifest present) or partial (the run never finished)."""
    target = backup_store(settings, session)
    by_id: dict[str, list[backend.StoredObject]] = {}
    for obj in target.list(f"{settings.environment}/"):
        parts = obj.key.split("/")
        if len(parts) == 3:
            by_id.setdefault(parts[1], []).append(obj)
    rows: list[tuple[str, str, str, int | None, int, str, str]] = []
    for backup_id in sorted(by_id, reverse=True):
        objects = {o.key.rsplit("/", 1)[1]: o for o in by_id[backup_id]}
        manifest = _manifest_or_none(target, settings.environment, backup_id) if MANIFEST_NAME in objects else None
        if manifest is None:
            files = sorted(name.removesuffix(".json") for name in objects if name != MANIFEST_NAME)
            status = "partial" if MANIFEST_NAME not in objects else "partial (manifest unreadable)"
            rows.append(
                (backup_id, status, ", ".join(files), None, sum(o.size_bytes for o in objects.values()), "", "")
            )
            continue
        entries = manifest.get("stacks", [])
        rows.append(
            (
                backup_id,
                "complete",
                ", ".join(e.get("stack", "?") for e in entries),
                sum(int(e.get("resources", 0)) for e in entries),
                sum(int(e.get("size_bytes", 0)) for e in entries),
                str(manifest.get("source", "")),
                str(manifest.get("reason", "")),
            )
        )
    return pd.DataFrame(rows, columns=BACKUP_COLUMNS).astype({"resources": "Int64"})


def read_manifest(session: boto3.Session, settings: Settings, backup_id: str) -> dict[str, Any]:
    """The manifest of a complete backup; a partial or unknown backup is refused, naming the ones there are."""
    target = backup_store(settings, session)
    _check_backup_id(target, settings, backup_id)
    manifest = _manifest_or_none(target, settings.environment, backup_id)
    if manifest is None:
        raise StateError(
            f"backup {backup_id} of {settings.environment} has no readable {MANIFEST_NAME}: it is partial (the backup "
            "run stopped before finishing) and cannot be trusted; take a new backup or choose a complete one"
        )
    return manifest


def read_backup_file(session: boto3.Session, settings: Settings, backup_id: str, stack: str) -> dict[str, Any]:
    """One stack's deployment from a complete backup: checksum-verified, parsed, and checked to belong to this stack
    and environment (by the URNs' stack and project) with the same rules as a stack import."""
    manifest = read_manifest(session, settings, backup_id)
    entry = next((e for e in manifest.get("stacks", []) if e.get("stack") == stack), None)
    if entry is None:
        held = ", ".join(e.get("stack", "?") for e in manifest.get("stacks", []))
        raise ParameterError(
            f"parameter 'stack': backup {backup_id} holds no state of stack {stack!r} (it holds: "
            f"{held}); choose another backup",
            name="stack",
        )
    target = backup_store(settings, session)
    key = _key(settings.environment, backup_id, entry["file"])
    data = target.read(key)
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise StateError(
            f"{target.url_for(key)} does not match the checksum in its manifest: the file is damaged "
            "or was changed after the backup; choose another backup"
        )
    return check_deployment(
        backend.parse_json(data, target.url_for(key)),
        target.url_for(key),
        stacks.get(stack),
        settings.environment,
        parameter="backup_id",
    )


def verify_backup(session: boto3.Session, settings: Settings, backup_id: str) -> Verification:
    """Re-read every file of a backup, compare size and SHA-256 with the manifest, and parse it as a deployment."""
    target = backup_store(settings, session)
    _check_backup_id(target, settings, backup_id)
    manifest = _manifest_or_none(target, settings.environment, backup_id)
    if manifest is None:
        checks = pd.DataFrame(
            [("", MANIFEST_NAME, None, "", "", "failed: no readable manifest (partial backup)")], columns=CHECK_COLUMNS
        )
        return Verification(backup_id, False, checks)
    rows = [_check_file(target, settings, backup_id, entry) for entry in manifest.get("stacks", [])]
    checks = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    return Verification(backup_id, bool(rows) and all(r[-1] == "ok" for r in rows), checks)


def run_runbook(
    session: boto3.Session,
    settings: Settings,
    *,
    action: str = "list",
    backup_id: str = "",
    on_output: OnOutput = print,
) -> pd.DataFrame:
    """The state backup runbook: list (default), backup, or verify one backup; returns the table to show."""
    if action not in ACTIONS:
        raise ParameterError(
            f"parameter 'action': unknown action {action!r}; choose one of {', '.join(ACTIONS)}", name="action"
        )
    if action == "verify" and not backup_id:
        raise ParameterError(
            "parameter 'backup_id': action 'verify' needs the id of a backup (see action 'list')", name="backup_id"
        )
    if action != "verify" and backup_id:
        raise ParameterError(
            f"parameter 'backup_id': only action 'verify' takes a backup id (action is {action!r}); "
            'set backup_id = ""',
            name="backup_id",
        )
    if action == "backup":
        return backup_state(session, settings, on_output=on_output).files
    if action == "verify":
        verification = verify_backup(session, settings, backup_id)
        on_output(f"backup {backup_id}: {'verified' if verification.ok else 'FAILED verification'}")
        return verification.checks
    backups = list_backups(session, settings)
    on_output(f"{len(backups)} backup(s) of {settings.environment} in {settings.state_backup_url}")
    return backups


def check_result(action: str, shown: pd.DataFrame, backup_id: str = "") -> None:
    """The runbook's outcome: a verification with any file not ok (a damaged file, a partial backup with no
    manifest) raises CheckFailedError, so the run fails; other actions pass."""
    if action != "verify":
        return
    failed = shown[shown["status"] != "ok"]
    if not failed.empty or shown.empty:
        reasons = "; ".join(f"{row.file}: {row.status}" for row in failed.itertuples()) or "no files"
        raise CheckFailedError(
            f"backup {backup_id or '?'} does not verify ({reasons}); do not restore from it: "
            "choose a complete backup that verifies, or take a new one (action 'backup')"
        )


def _key(environment: str, backup_id: str, name: str) -> str:
    return f"{environment}/{backup_id}/{name}"


def _new_backup_id(target: ObjectStore, environment: str, created: datetime) -> str:
    base = created.strftime(_ID_FORMAT)
    taken = {o.key.split("/")[1] for o in target.list(f"{environment}/{base}")}
    for attempt in range(_MAX_SAME_SECOND_BACKUPS):
        candidate = base if attempt == 0 else f"{base}-{attempt + 1}"
        if candidate not in taken:
            return candidate
    raise OperationError(f"more than {_MAX_SAME_SECOND_BACKUPS} backups started within one second; wait and retry")


def _check_backup_id(target: ObjectStore, settings: Settings, backup_id: str) -> None:
    if not backup_id or "/" in backup_id or not target.list(f"{settings.environment}/{backup_id}/"):
        known = sorted(
            {o.key.split("/")[1] for o in target.list(f"{settings.environment}/") if o.key.count("/") == 2},
            reverse=True,
        )
        raise ParameterError(
            f"parameter 'backup_id': no backup {backup_id!r} of {settings.environment} in {target.url}; "
            f"backups there: {', '.join(known[:10]) or 'none'} (run action 'list')",
            name="backup_id",
        )


def _manifest_or_none(target: ObjectStore, environment: str, backup_id: str) -> dict[str, Any] | None:
    try:
        manifest = backend.parse_json(target.read(_key(environment, backup_id, MANIFEST_NAME)), MANIFEST_NAME)
    except StateError:
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stacks"), list):
        return None
    return manifest


def _check_file(target: ObjectStore, settings: Settings, backup_id: str, entry: dict[str, Any]) -> tuple:
    stack, name = str(entry.get("stack", "")), str(entry.get("file", ""))
    try:
        data = target.read(_key(settings.environment, backup_id, name))
    except StateError:
        return stack, name, None, "", "", "failed: file missing"
    checksum = "ok" if hashlib.sha256(data).hexdigest() == entry.get("sha256") else "mismatch"
    try:
        check_deployment(
            backend.parse_json(data, name), name, stacks.get(stack), settings.environment, parameter="backup_id"
        )
        deployment = "ok"
    except TradaiError as exc:
        deployment = f"invalid: {exc}"
    problems = [
        p
        for p in (
            "size differs from the manifest" if len(data) != entry.get("size_bytes") else "",
            "checksum mismatch" if checksum != "ok" else "",
            "not a deployment of this stack" if deployment != "ok" else "",
        )
        if p
    ]
    return stack, name, len(data), checksum, deployment, "ok" if not problems else "failed: " + "; ".join(problems)
