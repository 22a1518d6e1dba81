"""Audit records: each run's scrubbed notebook plus a hash-chained JSONL index, kept locally and in the logs bucket."""

from __future__ import annotations

import copy
import fcntl
import getpass
import hashlib
import json
import os
import re
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradai_nb import config
from tradai_nb.errors import AuditError, AwsAccessError
from tradai_nb.redaction import Redactor
from tradai_nb.settings import PROJECT_ROOT, Settings

INDEX_FILE = "index.jsonl"
LOCK_FILE = "index.lock"
# Overrides settings.audit_dir for every environment (tests, CI workspaces).
AUDIT_DIR_VARIABLE = "TRADAI_AUDIT_DIR"
UPLOAD_PREFIX = "audit"
STATUSES = ("succeeded", "failed", "refused")
RECORD_COLUMNS = ["id", "start", "environment", "notebook", "status", "duration_s", "operator"]
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class AuditRecord:
    """One run as the index keeps it; `hash` covers every other field, `prev_hash` links it to the record before."""

    id: str
    operator: str
    host: str
    git_commit: str | None
    git_dirty: bool | None
    notebook: str
    environment: str
    parameters: dict[str, Any]
    start: str
    end: str
    duration_s: float
    status: str
    error: dict[str, Any] | None
    notebook_file: str
    notebook_sha256: str
    upload: dict[str, Any] | None
    prev_hash: str | None
    hash: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise AuditError(f"record {data.get('id', '?')!r} lacks the fields {', '.join(sorted(missing))}")
        return cls(**{name: data[name] for name in names})

    def to_line(self) -> str:
        return _canonical(self.to_dict())


def record_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON, without its own `hash` field."""
    return hashlib.sha256(_canonical({k: v for k, v in data.items() if k != "hash"}).encode()).hexdigest()


def audit_root(settings: Settings) -> Path:
    """Where the environment's audit records live: $TRADAI_AUDIT_DIR, else settings.audit_dir under the project root."""
    override = os.environ.get(AUDIT_DIR_VARIABLE)
    return Path(override).resolve() if override else (PROJECT_ROOT / settings.audit_dir).resolve()


class Run:
    """A run being recorded: who started what, where and when; `finish` stores its notebook and record.

    `settings` are the run's own (with its parameters applied): the upload goes where they point.
    """

    def __init__(self, notebook: Path, settings: Settings, parameters: Mapping[str, Any]) -> None:
        self.notebook = notebook
        self.settings = settings
        self.started = datetime.now(UTC)
        self.redactor = Redactor.for_run(parameters)
        self.operator = _operator()
        self.host = socket.gethostname()
        self.git_commit, self.git_dirty = _git_state()

    def finish(self, notebook: Mapping[str, Any], *, status: str, parameters: Mapping[str, Any],
               error: Mapping[str, Any] | None = None) -> AuditRecord:
        """Scrub and store the notebook, upload both where configured, append the record; returns the record."""
        if status not in STATUSES:
            raise AuditError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")
        ended = datetime.now(UTC)
        root = audit_root(self.settings)
        scrubbed = self.redactor.scrub_notebook(copy.deepcopy(dict(notebook)))
        with _index_lock(root):
            previous = read_records(root)
            record_id = _unique_id(root, self.started, self.notebook.stem, {r.id for r in previous})
            notebook_file = Path(self.settings.environment, f"{self.started:%Y-%m-%d}", f"{record_id}.ipynb")
            content = self._notebook_bytes(scrubbed, notebook_file)
            write_atomically(root / notebook_file, content)
            record = AuditRecord(
                id=record_id,
                operator=self.redactor.scrub(self.operator),
                host=self.redactor.scrub(self.host),
                git_commit=self.git_commit,
                git_dirty=self.git_dirty,
                notebook=self.redactor.scrub(_display_path(self.notebook)),
                environment=self.settings.environment,
                parameters=self.redactor.parameters(parameters),
                start=_timestamp(self.started),
                end=_timestamp(ended),
                duration_s=round((ended - self.started).total_seconds(), 3),
                status=status,
                error=self.redactor.scrub(dict(error)) if error else None,
                notebook_file=notebook_file.as_posix(),
                notebook_sha256=hashlib.sha256(content).hexdigest(),
                upload=None,
                prev_hash=previous[-1].hash if previous else None,
            )
            if self.settings.audit_upload:
                record.upload = upload(record, content, self.settings, self.redactor)
            record.hash = record_hash(record.to_dict())
            _append_line(root / INDEX_FILE, record.to_line())
        return record

    def _notebook_bytes(self, notebook: dict[str, Any], notebook_file: Path) -> bytes:
        import nbformat

        papermill = notebook.get("metadata", {}).get("papermill")
        if isinstance(papermill, dict) and "output_path" in papermill:
            papermill["output_path"] = notebook_file.as_posix()
        text = nbformat.writes(nbformat.from_dict(notebook))
        # A secret the structured scrub missed (a form nobody foresaw) must still never reach the disk.
        return self.redactor.scrub(text).encode("utf-8") if self.redactor.leaks(text) else text.encode("utf-8")


def upload(record: AuditRecord, notebook: bytes, settings: Settings, redactor: Redactor) -> dict[str, Any]:
    """Put the notebook and the record in the environment's logs bucket; failures are returned, never raised.

    The uploaded record is the record as the index will hold it when the upload succeeds (same upload field, same
    hash); when it fails, the index's copy notes the error instead.
    """
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from tradai_nb.aws import session_for

    bucket = config.get_bucket_name("logs", settings.environment)
    base = f"{UPLOAD_PREFIX}/{record.notebook_file.removesuffix('.ipynb')}"
    target = {"bucket": bucket, "notebook_key": f"{base}.ipynb", "record_key": f"{base}.json", "error": None}
    record.upload = target
    record.hash = record_hash(record.to_dict())
    try:
        # Few retries: a missing bucket or network must not hold the run (and the index lock) for minutes.
        s3 = session_for(settings).client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3},
                                                               connect_timeout=5, read_timeout=30))
        s3.put_object(Bucket=bucket, Key=target["notebook_key"], Body=notebook, ContentType="application/x-ipynb+json")
        s3.put_object(Bucket=bucket, Key=target["record_key"], Body=record.to_line().encode(), ContentType="application/json")
    except (BotoCoreError, ClientError, AwsAccessError) as exc:
        target = {**target, "error": redactor.scrub(f"{type(exc).__name__}: {exc}")}
    return target


def read_records(root: Path) -> list[AuditRecord]:
    """All records of an audit directory, oldest first (none if it holds no index yet)."""
    return [AuditRecord.from_dict(data) for _, data in _index_lines(root / INDEX_FILE)]


def list_records(root: Path, environment: str | None = None, since: datetime | None = None) -> list[AuditRecord]:
    """Records of one environment (or all) that started at or after `since`."""
    return [
        r for r in read_records(root)
        if (environment is None or r.environment == environment) and (since is None or _parse_time(r.start) >= since)
    ]


def find_record(root: Path, record_id: str) -> AuditRecord:
    """The record with this id, or the only one whose id starts with it."""
    records = read_records(root)
    exact = [r for r in records if r.id == record_id]
    matches = exact or [r for r in records if r.id.startswith(record_id)]
    if not matches:
        raise AuditError(f"no audit record {record_id!r} in {root / INDEX_FILE}; `tradai-nb audit list` shows the ids")
    if len(matches) > 1:
        raise AuditError(f"{record_id!r} matches {len(matches)} records ({', '.join(r.id for r in matches[:5])}); give more of the id")
    return matches[0]


def verify(root: Path) -> int:
    """Recompute the chain and every stored notebook's hash; raises AuditError naming the first record that fails."""
    previous_hash = None
    count = 0
    for line_number, data in _index_lines(root / INDEX_FILE):
        name = f"record {data.get('id')!r} (line {line_number} of {root / INDEX_FILE})"
        if record_hash(data) != data.get("hash"):
            raise AuditError(f"{name}: its content does not match its hash; the record was changed after it was written")
        if data.get("prev_hash") != previous_hash:
            raise AuditError(f"{name}: its prev_hash does not match the record before it; records were removed, "
                             "reordered or inserted")
        stored = root / str(data.get("notebook_file"))
        if not stored.is_file():
            raise AuditError(f"{name}: its notebook {stored} is missing")
        if hashlib.sha256(stored.read_bytes()).hexdigest() != data.get("notebook_sha256"):
            raise AuditError(f"{name}: its notebook {stored} does not match its SHA-256; the notebook was changed "
                             "after the run")
        previous_hash = data["hash"]
        count += 1
    return count


def records_table(records: Sequence[AuditRecord]):
    """Records as a table, one row per run."""
    import pandas as pd

    return pd.DataFrame([{c: getattr(r, c) for c in RECORD_COLUMNS} for r in records], columns=RECORD_COLUMNS)


def _index_lines(index: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not index.exists():
        return
    with index.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
            except ValueError:
                found = re.search(r'"id":"([^"]*)"', line)
                name = f"record {found[1]!r}" if found else "a record"
                raise AuditError(f"{name} (line {line_number} of {index}) is not valid JSON; the index was changed "
                                 "after it was written") from None
            if not isinstance(data, dict):
                raise AuditError(f"line {line_number} of {index} is not a record")
            yield line_number, data


@contextmanager
def _index_lock(root: Path) -> Iterator[None]:
    """Serialise writers of one audit directory, so the chain never forks."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _append_line(index: Path, line: str) -> None:
    existing = index.read_bytes() if index.exists() else b""
    if existing and not existing.endswith(b"\n"):
        raise AuditError(f"{index} ends in an unfinished line; run `tradai-nb audit verify` and repair it first")
    write_atomically(index, existing + line.encode("utf-8") + b"\n")


def write_atomically(path: Path, content: bytes) -> None:
    """Write to a temporary file beside the target, then rename it over: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _unique_id(root: Path, started: datetime, stem: str, taken: set[str]) -> str:
    base = f"{started:%Y%m%dT%H%M%SZ}-{_UNSAFE_NAME.sub('-', stem)}"
    candidate, number = base, 1
    while candidate in taken or any(root.glob(f"*/*/{candidate}.ipynb")):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path.resolve())


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def _git_state() -> tuple[str | None, bool | None]:
    """The checked-out commit and whether the working tree differs from it (None when not a git checkout)."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = git("status", "--porcelain")
    return commit.strip(), None if status is None else bool(status.strip())
