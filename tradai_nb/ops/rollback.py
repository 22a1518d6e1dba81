"""Rollback three ways (ECS task definition, state import from a backup, git revision), each dry-run first."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import yaml

from tradai_nb.actions import run_stack_action
from tradai_nb.engine import automation
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops import state_backup
from tradai_nb.ops._common import check_flag, check_revision
from tradai_nb.records import audit, gate
from tradai_nb.settings import PROJECT_ROOT, Settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend

MODES = ("ecs-task-definition", "state-import", "git-revision")
CHANGE_COLUMNS = ["change", "stack", "type", "name", "details"]
# Paths of a git revision that make up the stack programs and their settings.
PROGRAM_PATHS = ("tradai_nb", "params")
PLAN_TIMEOUT_S = 600
DEPLOY_TIMEOUT_S = 3600
GIT_TIMEOUT_S = 60
_COMPARED_FIELDS = ("id", "type", "inputs", "outputs", "parent", "dependencies", "provider", "protect")
# Run inside a checked-out revision: plans its stacks and writes the resource rows as JSON to argv[3].
_PLAN_SCRIPT = """
import json, sys
from tradai_nb.engine.plan import plan
from tradai_nb.settings import load_settings
result = plan(load_settings(sys.argv[1]), json.loads(sys.argv[2]))
rows = result.resources[["stack", "type", "name", "urn", "inputs"]].to_dict("records")
with open(sys.argv[3], "w") as out:
    json.dump(rows, out, default=str)
"""

OnOutput = Callable[[str], Any]


@dataclass
class RollbackResult:
    """What a rollback would change (dry run) or changed: the table of changes and one sentence on what is next."""

    mode: str
    dry_run: bool
    changes: pd.DataFrame
    message: str


_CHANGE_OF_MODE = {
    "ecs-task-definition": "ecs.rollback",
    "state-import": "rollback.state-import",
    "git-revision": "rollback.git-revision",
}


def check_parameters(
    settings: Settings, *, mode: str, dry_run: bool, confirm: str, stack: str = "", service: str = ""
) -> None:
    """Validate the rollback runbook's mode and, for a change (dry_run False), its guard rail, before any AWS call
    (each mode's own gate checks it again)."""
    _check_mode(mode, dry_run)
    if not dry_run:
        target = service if mode == "ecs-task-definition" else stack or "all stacks"
        gate.precheck(settings, _CHANGE_OF_MODE[mode], target=target, confirm=confirm)


def _check_mode(mode: str, dry_run: bool) -> None:
    if mode not in MODES:
        raise ParameterError(f"parameter 'mode': unknown mode {mode!r}; choose one of {', '.join(MODES)}", name="mode")
    check_flag("dry_run", dry_run)


def rollback(
    session: boto3.Session,
    settings: Settings,
    *,
    mode: str,
    stack: str = "",
    service: str = "",
    revision: int | None = None,
    backup_id: str = "",
    git_ref: str = "",
    dry_run: bool = True,
    confirm: str = "",
    repo_dir: str | Path | None = None,
    on_output: OnOutput = print,
) -> RollbackResult:
    """The rollback runbook: dispatch to the mode; every parameter is checked before anything is touched."""
    _check_mode(mode, dry_run)
    if mode == "ecs-task-definition":
        return rollback_task_definition(
            session, settings, service=service, revision=revision, dry_run=dry_run, confirm=confirm
        )
    if mode == "state-import":
        return import_backup(
            session, settings, stack=stack, backup_id=backup_id, dry_run=dry_run, confirm=confirm, on_output=on_output
        )
    return redeploy_git_revision(
        settings, git_ref=git_ref, stack=stack, dry_run=dry_run, confirm=confirm, repo_dir=repo_dir, on_output=on_output
    )


def rollback_task_definition(
    session: boto3.Session, settings: Settings, *, service: str, revision: int | None, dry_run: bool, confirm: str
) -> RollbackResult:
    """Put an ECS service back on an earlier task-definition revision (the previous one when revision is None)."""
    if not service:
        raise ParameterError(
            "parameter 'service': mode 'ecs-task-definition' needs the service to roll back", name="service"
        )
    check_revision(revision)
    try:
        from tradai_nb.ops.ecs import rollback_service
    except ModuleNotFoundError as exc:
        if exc.name != "tradai_nb.ops.ecs":
            raise
        raise OperationError(
            "the ECS runbook module tradai_nb.ops.ecs is not in this checkout, so mode "
            "'ecs-task-definition' cannot run; update tradai-nb"
        ) from None
    outcome = rollback_service(session, settings, service, revision=revision, dry_run=dry_run, confirm=confirm)
    verb = "would move" if dry_run else "moved"
    target = f"revision {revision}" if revision is not None else "its previous revision"
    return RollbackResult(
        "ecs-task-definition",
        dry_run,
        _as_frame(outcome),
        f"{verb} service {service} of {settings.environment} to {target}",
    )


def import_backup(
    session: boto3.Session,
    settings: Settings,
    *,
    stack: str,
    backup_id: str,
    dry_run: bool,
    confirm: str,
    on_output: OnOutput = print,
) -> RollbackResult:
    """Restore one stack's state from a backup: validate it, show the difference to the current state, and (not a
    dry run) back up the current state first, then import through the Automation API (needs the Pulumi CLI)."""
    if stack not in stacks.names():
        raise ParameterError(
            f"parameter 'stack': mode 'state-import' restores one stack; choose one of "
            f"{', '.join(stacks.names())} (got {stack!r})",
            name="stack",
        )
    if not backup_id:
        if not dry_run:
            raise ParameterError(
                "parameter 'backup_id': mode 'state-import' needs the backup to restore (the dry run lists them)",
                name="backup_id",
            )
        return _backup_choices(session, settings, stack)
    if dry_run:
        return _import_backup(session, settings, stack, backup_id, True, confirm, on_output)
    with gate.change(
        settings,
        "rollback.state-import",
        target=stack,
        confirm=confirm,
        parameters={"stack": stack, "backup_id": backup_id},
        checks=[lambda: _needs_pulumi_cli("import")],
        on_output=on_output,
    ):
        return _import_backup(session, settings, stack, backup_id, False, confirm, on_output)


def _import_backup(
    session: boto3.Session,
    settings: Settings,
    stack: str,
    backup_id: str,
    dry_run: bool,
    confirm: str,
    on_output: OnOutput,
) -> RollbackResult:
    deployment = state_backup.read_backup_file(session, settings, backup_id, stack)
    state = backend.state_store_for(settings, session)
    ref = backend.stack_ref(stack, settings.environment)
    current = state.read_deployment(ref) if state.existing_checkpoint_key(ref) is not None else None
    changes = diff_deployments(stack, current, deployment)
    counts = _counted(changes)
    if dry_run:
        return RollbackResult(
            "state-import",
            True,
            changes,
            f"dry run: importing backup {backup_id} into {ref.fully_qualified} would change its state: "
            f"{counts}; nothing was changed. Set dry_run=False to import"
            + (f" (with confirm={settings.environment!r})" if _protected(settings) else ""),
        )
    if current is None:
        on_output(f"{ref.fully_qualified} has no state yet: nothing to back up before the import")
        before = "none (the stack had no state)"
    else:
        before = state_backup.backup_state(
            session,
            settings,
            stack_names=[stack],
            on_output=on_output,
            reason=f"before importing {backup_id} into {stack}",
        ).backup_id
    with tempfile.TemporaryDirectory(prefix="tradai-import-") as folder:
        state_file = Path(folder) / f"{stack}.json"
        state_file.write_text(json.dumps(deployment))
        run_stack_action(settings, stack, "import", confirm=confirm, on_output=on_output, state_file=state_file)
    return RollbackResult(
        "state-import",
        False,
        changes,
        f"imported backup {backup_id} into {ref.fully_qualified} ({counts}); the state before the "
        f"import is backup {before}. Next: preview the stack, then `up` so AWS matches the state",
    )


def redeploy_git_revision(
    settings: Settings,
    *,
    git_ref: str,
    stack: str = "",
    dry_run: bool = True,
    confirm: str = "",
    repo_dir: str | Path | None = None,
    on_output: OnOutput = print,
) -> RollbackResult:
    """Redeploy the stack programs as they were at a git ref. The dry run plans both offline (the ref's programs
    and the working tree's) and lists what the redeploy would create, delete or update; the deploy runs the ref's
    own `tradai-nb stack up` per stack, in dependency order, and needs the Pulumi CLI."""
    names = backend.select_stacks(stack)
    repo = Path(repo_dir) if repo_dir is not None else PROJECT_ROOT
    if not git_ref:
        raise ParameterError(
            "parameter 'git_ref': mode 'git-revision' needs a git ref to go back to (a commit, tag or HEAD~1)",
            name="git_ref",
        )
    if dry_run:
        return _redeploy_git_revision(settings, repo, git_ref, names, True, on_output)
    with gate.change(
        settings,
        "rollback.git-revision",
        target=", ".join(names),
        confirm=confirm,
        parameters={"git_ref": git_ref, "stacks": list(names)},
        checks=[lambda: _needs_pulumi_cli("up")],
        on_output=on_output,
    ):
        return _redeploy_git_revision(settings, repo, git_ref, names, False, on_output)


def _redeploy_git_revision(
    settings: Settings, repo: Path, git_ref: str, names: Sequence[str], dry_run: bool, on_output: OnOutput
) -> RollbackResult:
    commit = _resolve_commit(repo, git_ref)
    with tempfile.TemporaryDirectory(prefix="tradai-revision-") as folder:
        revision_tree = Path(folder)
        _extract_programs(repo, commit, git_ref, revision_tree)
        current_rows, revision_rows = _plan_trees([repo, revision_tree], settings.environment, names)
        changes = diff_plans(current_rows, revision_rows)
        counts = _counted(changes)
        if dry_run:
            return RollbackResult(
                "git-revision",
                True,
                changes,
                f"dry run: redeploying {', '.join(names)} of {settings.environment} as of {git_ref} "
                f"({commit[:12]}) would make these changes: {counts}; nothing was changed. "
                "Set dry_run=False to deploy "
                "(needs the Pulumi CLI)",
            )
        _pin_backend(revision_tree, settings)
        for name in names:
            _deploy_from_tree(revision_tree, settings, name, on_output)
    return RollbackResult(
        "git-revision",
        False,
        changes,
        f"redeployed {', '.join(names)} of {settings.environment} as of {git_ref} ({commit[:12]}): "
        f"{counts}. Check the services and run the drift runbook",
    )


def diff_deployments(stack: str, current: Mapping[str, Any] | None, target: Mapping[str, Any]) -> pd.DataFrame:
    """What importing `target` would do to the state: resources added, removed, or changed (and which fields)."""
    before = {r["urn"]: r for r in (current or {}).get("deployment", {}).get("resources", []) or []}
    after = {r["urn"]: r for r in target["deployment"].get("resources", []) or []}
    rows = []
    for urn in sorted(before.keys() | after.keys()):
        old, new = before.get(urn), after.get(urn)
        if old is None and new is not None:
            rows.append(("added", stack, new.get("type", ""), _name(urn), f"id {new.get('id', '')}".strip()))
        elif new is None and old is not None:
            rows.append(("removed", stack, old.get("type", ""), _name(urn), f"id {old.get('id', '')}".strip()))
        elif old is not None and new is not None:
            fields = [f for f in _COMPARED_FIELDS if old.get(f) != new.get(f)]
            if fields:
                rows.append(("changed", stack, new.get("type", ""), _name(urn), ", ".join(fields)))
    return _sorted_changes(rows)


def diff_plans(current: Iterable[Mapping[str, Any]], revision: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """What redeploying the revision's plan over the current one would do: create, delete or update (which inputs)."""
    before = {r["urn"]: r for r in current}
    after = {r["urn"]: r for r in revision}
    rows = []
    for urn in sorted(before.keys() | after.keys()):
        old, new = before.get(urn), after.get(urn)
        if old is None and new is not None:
            rows.append(("create", new["stack"], new["type"], new["name"], ""))
        elif new is None and old is not None:
            rows.append(("delete", old["stack"], old["type"], old["name"], ""))
        elif old is not None and new is not None and old.get("inputs") != new.get("inputs"):
            old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
            keys = sorted(k for k in old_inputs.keys() | new_inputs.keys() if old_inputs.get(k) != new_inputs.get(k))
            rows.append(("update", new["stack"], new["type"], new["name"], ", ".join(keys)))
    return _sorted_changes(rows)


def _needs_pulumi_cli(action: str) -> None:
    # After the confirm rule, before anything is read or written: the Pulumi CLI and its passphrase.
    automation.find_pulumi_cli(action)
    automation.require_passphrase()


def _backup_choices(session: boto3.Session, settings: Settings, stack: str) -> RollbackResult:
    backups = state_backup.list_backups(session, settings)
    holding = backups["stacks"].fillna("").map(lambda listed: stack in listed.split(", "))
    choices = backups[(backups["status"] == "complete") & holding].reset_index(drop=True)
    message = (
        f"choose backup_id from the {len(choices)} complete backup(s) holding {stack} above, then run again "
        "(still a dry run) to see what the import would change"
        if len(choices)
        else f"no complete backup of {settings.environment} holds {stack}: take one with the state backup runbook"
    )
    return RollbackResult("state-import", True, choices, message)


def _resolve_commit(repo: Path, git_ref: str) -> str:
    if git_ref.startswith("-"):
        raise ParameterError(f"parameter 'git_ref': {git_ref!r} is not a git ref", name="git_ref")
    found = _git(repo, ["rev-parse", "--verify", "--quiet", f"{git_ref}^{{commit}}"], check=False)
    if found.returncode != 0:
        raise ParameterError(
            f"parameter 'git_ref': {git_ref!r} is not a commit of the repository at {repo} "
            "(try `git log --oneline` for candidates)",
            name="git_ref",
        )
    return found.stdout.decode().strip()


def _extract_programs(repo: Path, commit: str, git_ref: str, into: Path) -> None:
    archive = _git(repo, ["archive", "--format=tar", commit, "--", *PROGRAM_PATHS], check=False)
    if archive.returncode != 0:
        raise ParameterError(
            f"parameter 'git_ref': {git_ref} has no {' and '.join(PROGRAM_PATHS)} to plan "
            f"({archive.stderr.decode().strip()})",
            name="git_ref",
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")


def _git(repo: Path, args: Sequence[str], *, check: bool) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=GIT_TIMEOUT_S, check=check)
    except FileNotFoundError:
        raise OperationError("mode 'git-revision' needs git on PATH") from None
    except subprocess.TimeoutExpired:
        raise OperationError(f"git {args[0]} in {repo} did not finish within {GIT_TIMEOUT_S} s") from None


def _tree_env(tree: Path, settings: Settings | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    if settings is not None:
        # The revision's own deploys record into this checkout's audit folder, not into the temporary tree.
        env[audit.AUDIT_DIR_VARIABLE] = str(audit.audit_root(settings))
    return env


def _plan_trees(trees: Sequence[Path], environment: str, names: Sequence[str]) -> list[list[dict[str, Any]]]:
    """Plan each tree's programs in its own Python process, all at once; rows of stack, type, name, urn, inputs."""
    with tempfile.TemporaryDirectory(prefix="tradai-plan-") as folder:
        outputs = [Path(folder) / f"plan-{i}.json" for i in range(len(trees))]
        running = [
            subprocess.Popen(
                [sys.executable, "-c", _PLAN_SCRIPT, environment, json.dumps(list(names)), str(out)],
                cwd=tree,
                env=_tree_env(tree),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for tree, out in zip(trees, outputs, strict=True)
        ]
        try:
            errors = [process.communicate(timeout=PLAN_TIMEOUT_S)[1] for process in running]
        except subprocess.TimeoutExpired:
            raise OperationError(f"planning did not finish within {PLAN_TIMEOUT_S} s; nothing was changed") from None
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        for tree, process, stderr in zip(trees, running, errors, strict=True):
            if process.returncode != 0:
                tail = " / ".join(stderr.decode(errors="replace").strip().splitlines()[-4:])
                raise OperationError(f"the offline plan of the programs in {tree} failed ({tail}); nothing was changed")
        return [json.loads(out.read_text()) for out in outputs]


def _pin_backend(tree: Path, settings: Settings) -> None:
    # A relative file:// backend would resolve inside the temporary tree; the revision must deploy to this one.
    params = tree / "params" / f"{settings.environment}.yaml"
    data = yaml.safe_load(params.read_text())
    data["pulumi_backend_url"] = automation.backend_url(settings)
    params.write_text(yaml.safe_dump(data, sort_keys=False))


def _deploy_from_tree(tree: Path, settings: Settings, stack: str, on_output: OnOutput) -> None:
    command = [sys.executable, "-m", "tradai_nb", "stack", "up", "--stack", stack, "--env", settings.environment]
    if _protected(settings):
        command += ["--confirm", settings.environment]
    on_output(f"deploying {stack} from the revision: {' '.join(command[1:])}")
    with subprocess.Popen(
        command, cwd=tree, env=_tree_env(tree, settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        if process.stdout is None:
            raise RuntimeError("the deploy process was started without its output pipe")
        for line in process.stdout:
            on_output(line.rstrip("\n"))
        try:
            process.wait(timeout=DEPLOY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            raise OperationError(
                f"deploying {stack} did not finish within {DEPLOY_TIMEOUT_S} s and was stopped; "
                "check the stack's lock with the state locks runbook"
            ) from None
    if process.returncode != 0:
        raise OperationError(
            f"deploying {stack} from the revision failed (exit {process.returncode}; output above); "
            "stacks after it were not deployed"
        )


def _as_frame(outcome: Any) -> pd.DataFrame:
    if isinstance(outcome, pd.DataFrame):
        return outcome
    if dataclasses.is_dataclass(outcome) and not isinstance(outcome, type):
        return pd.DataFrame([dataclasses.asdict(outcome)])
    if isinstance(outcome, Mapping):
        return pd.DataFrame([dict(outcome)])
    return pd.DataFrame([{"result": str(outcome)}])


def _sorted_changes(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(sorted(rows), columns=CHANGE_COLUMNS)


def _counted(changes: pd.DataFrame) -> str:
    if changes.empty:
        return "no differences"
    counts = changes["change"].value_counts()
    return ", ".join(f"{change} {counts[change]}" for change in sorted(counts.index))


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _protected(settings: Settings) -> bool:
    return gate.needs_confirm(settings.environment)
