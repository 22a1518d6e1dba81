"""Headless notebook runs: parameters checked, guards pre-checked, sandbox started, papermill run, audit record kept."""

from __future__ import annotations

import ast
import copy
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlparse

import papermill
import yaml
from papermill.exceptions import PapermillException, PapermillExecutionError
from papermill.iorw import papermill_io

from tradai_nb import files
from tradai_nb.errors import GuardError, ParameterError, SettingsError, TradaiError
from tradai_nb.guards import check_stack_action
from tradai_nb.records import anchoring, audit, provenance
from tradai_nb.records.audit import AuditRecord
from tradai_nb.redaction import Redactor, check_secret_strength
from tradai_nb.settings import PROJECT_ROOT, SETTINGS_FIELDS, Settings, load_settings, port_answers

KERNEL_NAME = "python3"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
STACK_NOTEBOOKS_DIR = NOTEBOOKS_DIR / "stacks"
BOOTSTRAP_NOTEBOOK = "bootstrap"
# Where a run is recorded is the environment's choice (params file), never a run's own parameter.
AUDIT_SETTINGS = ("audit_dir", "audit_upload", "audit_retention_days")
# A run stopped by one of these was refused (nothing was changed), not failed.
REFUSALS = ("GuardError", "ParameterError", "SettingsError", "AuditStoreError", "PolicyViolationError")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class NotebookParameter:
    """One name of a notebook's `parameters` cell, its literal default and the help from its comment."""

    name: str
    default: Any
    help: str

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class CheckedParameters:
    """Parameters that passed every check: what to inject, what the notebook will see, the settings they make."""

    given: dict[str, Any]
    effective: dict[str, Any]
    settings: Settings


def run_notebook(
    notebook: str | Path,
    environment: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    progress_bar: bool | None = None,
) -> AuditRecord:
    """Run a notebook headless in one environment and keep the run as an audit record, refusals included: a
    `started` record before anything happens, the outcome with the executed notebook after. Returns the outcome.
    Raises AuditStoreError (nothing run) when the audit folder cannot take the started record."""
    requested = {"environment": environment, **(parameters or {})}
    try:
        settings = load_settings(environment)
    except SettingsError as exc:
        return _RunRecord(str(notebook), None, requested).refuse("settings", exc)
    try:
        source = notebook_path(notebook)
    except ParameterError as exc:
        return _RunRecord(str(notebook), settings, requested).refuse("notebook", exc)
    run = _RunRecord(provenance.display_path(source), settings, requested)
    run.start(requested)
    try:
        checked = check_parameters(source, settings, requested)
        run.stage = "guard"
        precheck_stack_action(source, checked)
        for warning in check_secret_strength(checked.settings.environment, run.redactor):
            print(f"tradai-nb: warning: {warning}", file=sys.stderr)
    except (ParameterError, GuardError) as exc:
        return run.finish(_without_outputs(prepare(source, requested)), "refused", requested, exc)
    run.settings, run.stage = checked.settings, "sandbox"
    try:
        sandbox = start_sandbox(run.settings) if run.settings.is_local else {}
    except TradaiError as exc:
        return run.finish(_without_outputs(prepare(source, checked.given)), outcome(exc), checked.given, exc)
    run.settings = run.settings.model_copy(update=sandbox)
    given = {**checked.given, **sandbox}
    run.stage = "kernel"
    with _run_environment(run.id, run.notebook):
        executed, error = execute(
            source, given, progress_bar=sys.stderr.isatty() if progress_bar is None else progress_bar
        )
    if executed is None:
        executed = _without_outputs(prepare(source, given))
    else:
        run.stage = _how_far(executed, error)
    record = run.finish(executed, outcome(error), given, error)
    if isinstance(error, KeyboardInterrupt):
        raise error
    return record


class _RunRecord:
    """The two records of one headless run: `started` before anything happens, then its outcome."""

    def __init__(self, notebook: str, settings: Settings | None, requested: Mapping[str, Any]) -> None:
        self.notebook = notebook
        self.settings = settings
        self.store = audit.AuditStore.for_settings(settings)
        self.started = datetime.now(UTC)
        self.redactor = Redactor.for_run(requested)
        self.origin = provenance.current()
        self.id = self.store.new_id(self.started, Path(notebook).stem)
        self.stage = "parameters"
        self.parameters = self.redactor.parameters(requested)

    def _fields(self, status: str, error: BaseException | None, ended: datetime | None) -> dict[str, Any]:
        environment = self.settings.environment if self.settings else str(self.parameters.get("environment"))
        return {
            "id": self.id,
            "kind": "run",
            "status": status,
            "origin": "run",
            "action": "notebook",
            "target": self.redactor.scrub(self.notebook),
            "environment": environment,
            "operator": self.redactor.scrub(self.origin.operator),
            "host": self.redactor.scrub(self.origin.host),
            "git_commit": self.origin.git_commit,
            "git_dirty": self.origin.git_dirty,
            "notebook": self.redactor.scrub(self.notebook),
            "parameters": self.parameters,
            "start": audit.timestamp(self.started),
            "end": audit.timestamp(ended) if ended else None,
            "duration_s": round((ended - self.started).total_seconds(), 3) if ended else None,
            "stage": self.stage,
            "error": self.redactor.scrub(describe(error)) if error is not None else None,
            "parent": None,
        }

    def start(self, requested: Mapping[str, Any]) -> AuditRecord:
        record = self.store.append(self._fields(audit.STARTED, None, None))
        # Settings keys among the parameters (a sandbox_port, say) may point the upload elsewhere: then the started
        # record goes up with the outcome, under the run's own settings. A failed upload is said once, at the end.
        if not any(name in SETTINGS_FIELDS and name != "environment" for name in requested):
            self._anchor(warn=False)
        return record

    def refuse(self, stage: str, error: BaseException) -> AuditRecord:
        """One record for a run that could not even begin (unknown environment or notebook)."""
        self.stage = stage
        record = self.store.append(self._fields("refused", error, datetime.now(UTC)))
        self._anchor()
        return record

    def finish(
        self, notebook: dict[str, Any], status: str, parameters: Mapping[str, Any], error: BaseException | None
    ) -> AuditRecord:
        self.parameters = self.redactor.parameters(parameters)
        entry = self._fields(status, error, datetime.now(UTC))
        entry["notebook_file"] = self.store.notebook_path_for(entry)
        record = self.store.append(entry, self._notebook_bytes(notebook, entry["notebook_file"]))
        self._anchor()
        return record

    def _notebook_bytes(self, notebook: dict[str, Any], notebook_file: str) -> bytes:
        scrubbed = self.redactor.scrub_notebook(copy.deepcopy(notebook))
        papermill_metadata = scrubbed.get("metadata", {}).get("papermill")
        if isinstance(papermill_metadata, dict) and "output_path" in papermill_metadata:
            papermill_metadata["output_path"] = notebook_file
        text = audit.notebook_bytes(scrubbed).decode("utf-8")
        # A secret the structured scrub missed (a form nobody foresaw) must still never reach the disk.
        return (self.redactor.scrub(text) if self.redactor.leaks(text) else text).encode("utf-8")

    def _anchor(self, *, warn: bool = True) -> None:
        if self.settings is None:
            return
        uploaded = anchoring.upload_pending(self.store, self.settings)
        if uploaded.error and warn:
            print(
                f"tradai-nb: warning: the run's record is kept in {self.store.index}, but its upload to "
                f"s3://{uploaded.bucket} failed ({uploaded.error}); the next record's upload retries it",
                file=sys.stderr,
            )


@contextmanager
def _run_environment(run_id: str, notebook: str) -> Iterator[None]:
    """The kernel papermill starts inherits these: changes made in it name this run as their parent."""
    saved = {name: os.environ.get(name) for name in (provenance.RUN_ID_VARIABLE, provenance.RUN_NOTEBOOK_VARIABLE)}
    os.environ[provenance.RUN_ID_VARIABLE] = run_id
    os.environ[provenance.RUN_NOTEBOOK_VARIABLE] = notebook
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _without_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook with no stored outputs: what a run that never reached its kernel keeps (the committed outputs
    are not this run's results)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def _how_far(executed: dict[str, Any], error: BaseException | None) -> str:
    if error is None:
        return "finished"
    if isinstance(error, PapermillExecutionError):
        return f"cell {error.exec_count}"
    counts = [c.get("execution_count") for c in executed.get("cells", []) if c.get("cell_type") == "code"]
    ran = [n for n in counts if n]
    return f"after cell {max(ran)}" if ran else "kernel"


def notebook_path(notebook: str | Path) -> Path:
    """The notebook file: as given, or relative to the project root."""
    for candidate in (Path(notebook), PROJECT_ROOT / notebook):
        if candidate.is_file() and candidate.suffix == ".ipynb":
            return candidate.resolve()
    raise ParameterError(
        f"notebook {str(notebook)!r}: no such .ipynb file (paths are relative to the current "
        f"directory or to {PROJECT_ROOT}); the stack notebooks are in notebooks/stacks/",
        name="notebook",
    )


def notebook_parameters(source: Path) -> dict[str, NotebookParameter]:
    """The names, literal defaults and help of the notebook's `parameters` cell (as papermill reads it)."""
    declared = {}
    for name, found in papermill.inspect_notebook(str(source)).items():
        try:
            default = ast.literal_eval(found["default"])
        except (ValueError, SyntaxError):
            raise ParameterError(
                f"notebook {source.name}: parameter {name!r} defaults to {found['default']!r}, which is "
                "not a literal; the parameters cell must hold literal defaults only",
                name=name,
            ) from None
        declared[name] = NotebookParameter(name, default, found["help"])
    return declared


def check_parameters(source: Path, settings: Settings, requested: Mapping[str, Any]) -> CheckedParameters:
    """Refuse unknown, mistyped or missing parameters (naming them) before any kernel starts."""
    declared = notebook_parameters(source)
    given: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name, value in requested.items():
        if name == "environment":
            if value != settings.environment:
                raise ParameterError(
                    f"parameter 'environment': the run is for {settings.environment!r} but the "
                    f"parameter says {value!r}; choose the environment with --env only",
                    name=name,
                )
        elif name in declared:
            value = _coerce(name, value, declared[name].default)
        elif name in AUDIT_SETTINGS:
            raise ParameterError(
                f"parameter {name!r}: where runs are recorded is set in params/{settings.environment}.yaml "
                f"(or ${audit.AUDIT_DIR_VARIABLE}), not per run",
                name=name,
            )
        elif name not in SETTINGS_FIELDS:
            raise ParameterError(
                f"parameter {name!r}: unknown to {source.name}; it takes {', '.join(declared) or 'no parameters'} "
                "(and any settings key of params/<env>.yaml)",
                name=name,
            )
        if name in SETTINGS_FIELDS and name != "environment":
            value = overrides[name] = _setting_value(name, value)
        given[name] = value
    missing = next((p for p in declared.values() if p.required and given.get(p.name) in (None, "")), None)
    if missing is not None:
        hint = f" ({missing.help})" if missing.help else ""
        raise ParameterError(
            f"parameter {missing.name!r} is required by {source.name} and was not given; "
            f"pass -p {missing.name} <value>{hint}",
            name=missing.name,
        )
    try:
        run_settings = load_settings(settings.environment, overrides) if overrides else settings
    except SettingsError as exc:
        raise ParameterError(f"parameter {exc.key!r} is not a valid setting: {exc}", name=exc.key) from None
    effective = {**{p.name: p.default for p in declared.values()}, **given}
    return CheckedParameters(given, effective, run_settings)


def precheck_stack_action(source: Path, checked: CheckedParameters) -> None:
    """For stack notebooks, refuse what the action's guards and needs would refuse, before the kernel starts."""
    stack_names = stacks_of(source)
    if not stack_names:
        return
    values = checked.effective
    action = values.get("action", "plan")
    if source.stem == BOOTSTRAP_NOTEBOOK:
        from tradai_nb.bootstrap import check_bootstrap_action

        check_bootstrap_action(action)
    for stack in stack_names:
        check_stack_action(
            checked.settings,
            stack,
            action,
            confirm=values.get("confirm", ""),
            allow_destroy=values.get("allow_destroy", False),
            state_file=values.get("state_file") or None,
        )


def stacks_of(source: Path) -> tuple[str, ...]:
    """The stacks a notebook of notebooks/stacks/ acts on (none for any other notebook)."""
    from tradai_nb.stacks import stacks

    if source.resolve().parent != STACK_NOTEBOOKS_DIR.resolve():
        return ()
    if source.stem == BOOTSTRAP_NOTEBOOK:
        return stacks.names()
    return (source.stem,) if source.stem in stacks.names() else ()


def start_sandbox(settings: Settings) -> dict[str, Any]:
    """Have the embedded AWS answering before a local run; returns `sandbox_port` to inject when it moved."""
    if port_answers(settings.sandbox_port):
        return {}
    from tradai_nb.sandbox.server import ensure_running

    port = urlparse(ensure_running(settings)).port
    return {} if port == settings.sandbox_port else {"sandbox_port": port}


def prepare(source: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameterized notebook, not executed (what a refused run stores)."""
    prepared = papermill.execute_notebook(
        str(source), None, parameters=dict(parameters), prepare_only=True, kernel_name=KERNEL_NAME, progress_bar=False
    )
    return json.loads(json.dumps(prepared))


def execute(
    source: Path, parameters: Mapping[str, Any], *, progress_bar: bool
) -> tuple[dict[str, Any] | None, BaseException | None]:
    """Execute with papermill in the project root; returns the executed notebook (None when papermill wrote none:
    the kernel never ran) and the error that stopped it."""
    target = _IN_MEMORY.new_path(source)
    error = None
    try:
        with kernel_config() as config:
            papermill.execute_notebook(
                str(source),
                target,
                parameters=dict(parameters),
                kernel_name=KERNEL_NAME,
                cwd=str(PROJECT_ROOT),
                progress_bar=progress_bar,
                config=config,
            )
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - whatever stops the run is returned to be recorded
        error = exc
    written = _IN_MEMORY.pop(target)
    return (json.loads(written) if written else None), error


def outcome(error: BaseException | None) -> str:
    """The run status an error (or none) gives."""
    if error is None:
        return "succeeded"
    return "refused" if describe(error)["ename"] in REFUSALS else "failed"


@overload
def describe(error: BaseException) -> dict[str, Any]: ...


@overload
def describe(error: None) -> None: ...


def describe(error: BaseException | None) -> dict[str, Any] | None:
    """The error summary a record keeps: exception name, message and, for a notebook error, the cell."""
    if error is None:
        return None
    if isinstance(error, PapermillExecutionError):
        return {"ename": error.ename, "evalue": error.evalue, "cell": error.exec_count}
    return {"ename": type(error).__name__, "evalue": str(error), "cell": None}


def refresh_notebooks(paths: Sequence[Path] | None = None, *, on_progress: Callable[[str], None] = print) -> list[Path]:
    """Re-execute notebooks in place with their literal defaults (env local, read-only actions) against a freshly
    seeded sandbox of their own: the outputs nbval checks."""
    from tradai_nb.sandbox import server as sandbox

    with sandbox.isolated_local_environment():
        sandbox.ensure_running(load_settings("local"))
        return [_refresh(notebook_path(path), on_progress) for path in paths or sorted(NOTEBOOKS_DIR.glob("*/*.ipynb"))]


def notebook_text(path: Path) -> str:
    """What an executed notebook showed, as text: each code cell's printed and displayed text, the parameters cells
    left out."""
    import nbformat

    shown = []
    for cell in nbformat.read(path, as_version=4).cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or "parameters" in tags or "injected-parameters" in tags:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                shown.append(output.get("text", "").rstrip("\n"))
            elif output.get("output_type") == "error":
                shown.append(f"{output.get('ename')}: {output.get('evalue')}")
            elif "text/plain" in output.get("data", {}) and "image/png" not in output["data"]:
                shown.append(output["data"]["text/plain"].rstrip("\n"))
    return "\n\n".join(part for part in shown if part)


def _refresh(path: Path, on_progress: Callable[[str], None]) -> Path:
    import nbclient
    import nbformat

    on_progress(f"refreshing {path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}")
    node = nbformat.read(path, as_version=4)
    # Same working directory as nbval's kernel (the notebook's folder), no timing metadata to churn in git.
    with kernel_config() as config:
        nbclient.NotebookClient(
            node,
            kernel_name=KERNEL_NAME,
            timeout=600,
            record_timing=False,
            config=config,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    files.write_atomically(path, nbformat.writes(node).encode("utf-8"))
    return path


@contextmanager
def kernel_config() -> Iterator[Any]:
    """Kernel settings for headless runs: IPC sockets in a private folder, so outputs (secrets included, before
    they are scrubbed) never cross a TCP port. The socket path is absolute: kernel and client may differ in cwd."""
    from traitlets.config import Config

    with tempfile.TemporaryDirectory(prefix="tradai-kernel-") as sockets:
        yield Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})


def _coerce(name: str, value: Any, default: Any) -> Any:
    """A value of the default's type: CLI strings are converted, anything that does not convert is refused."""
    if default is None:
        return value
    expected = type(default)
    converted = _from_text(value, expected) if isinstance(value, str) and expected is not str else value
    if expected is float and isinstance(converted, int) and not isinstance(converted, bool):
        converted = float(converted)
    if (
        converted is _INVALID
        or not isinstance(converted, expected)
        or (expected is int and isinstance(converted, bool))
    ):
        raise ParameterError(
            f"parameter {name!r}: expected {_describe_type(expected)} like the notebook's default "
            f"{default!r}, got {value!r}",
            name=name,
        )
    return converted


_INVALID = object()


def _from_text(text: str, expected: type) -> Any:
    if expected is bool:
        lowered = text.strip().lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else _INVALID
    try:
        if expected is int:
            return int(text)
        if expected is float:
            return float(text)
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _INVALID


def _describe_type(expected: type) -> str:
    if expected is bool:
        return "a bool (true/false)"
    return {int: "an int", float: "a float", str: "a string"}.get(expected, f"a {expected.__name__} literal")


def _setting_value(name: str, value: Any) -> Any:
    """A settings value from a CLI string, read as YAML (as in params files) unless the setting is plain text."""
    from tradai_nb.settings import Settings as SettingsModel

    annotation = SettingsModel.model_fields[name].annotation
    if not isinstance(value, str) or annotation is str:
        return value
    parsed = yaml.safe_load(value) if value.strip() else None
    if annotation == (str | None):
        return None if parsed is None else value
    return parsed


class _InMemoryNotebooks:
    """A papermill I/O handler keeping output notebooks in memory: an unscrubbed notebook never touches the disk."""

    scheme = "tradai-memory://"

    def __init__(self) -> None:
        self._written: dict[str, str] = {}
        self._count = 0

    def new_path(self, source: Path) -> str:
        self._count += 1
        return f"{self.scheme}{self._count}/{source.name}"

    def pop(self, path: str) -> str | None:
        return self._written.pop(path, None)

    def write(self, buf: str, path: str) -> None:
        self._written[path] = buf

    def read(self, path: str) -> str:
        if path not in self._written:
            raise PapermillException(f"{path}: nothing written there")
        return self._written[path]

    def listdir(self, path: str) -> list[str]:
        raise PapermillException("listing is not supported for in-memory notebooks")

    def pretty_path(self, path: str) -> str:
        return path


class _SettingsKeysAreKnown(logging.Filter):
    """Drop papermill's "Passed unknown parameter" warning for settings keys: the runner checked them, and the
    notebook reads them through settings.from_parameters, not through its parameters cell."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Passed unknown parameter: ") and message.rsplit(" ", 1)[1] in SETTINGS_FIELDS)


_IN_MEMORY = _InMemoryNotebooks()
papermill_io.register(_InMemoryNotebooks.scheme, _IN_MEMORY)
logging.getLogger("papermill").addFilter(_SettingsKeysAreKnown())
