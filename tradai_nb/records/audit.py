"""Audit records: one hash-chained JSONL index per audit folder, appended durably ahead of every change."""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradai_nb.errors import AuditError, AuditStoreError
from tradai_nb.files import fsync_directory, write_atomically
from tradai_nb.settings import PROJECT_ROOT, Settings
from tradai_nb.timefmt import parse_iso

INDEX_FILE = "index.jsonl"
# The chain's identity: which uploaded copy this folder's index must match.
CHAIN_FILE = "chain.json"
LOCK_FILE = "index.lock"
# Overrides settings.audit_dir for every environment (tests, CI workspaces).
AUDIT_DIR_VARIABLE = "TRADAI_AUDIT_DIR"
KINDS = ("run", "change")
# Where a record came from: `tradai-nb run`, a notebook open in JupyterLab or VS Code, a headless notebook client
# (papermill, nbval, nbclient), or Python code outside any notebook.
ORIGINS = ("run", "interactive", "papermill", "python")
STARTED = "started"
OUTCOMES = ("succeeded", "failed", "refused")
STATUSES = (STARTED, *OUTCOMES)
RECORD_COLUMNS = [
    "id",
    "start",
    "environment",
    "origin",
    "kind",
    "action",
    "target",
    "status",
    "duration_s",
    "operator",
]
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
# Serialises appends from threads of one process; the file lock serialises processes.
_append_lock = threading.Lock()


@dataclass
class AuditRecord:
    """One line of the index. A run or change writes a `started` line before it acts and an outcome line (same id)
    after; a refusal is one line. `hash` covers every other field; `prev_hash` links the line to the one before."""

    chain: str
    seq: int
    id: str
    kind: str
    status: str
    origin: str
    action: str
    target: str
    environment: str
    operator: str
    host: str
    git_commit: str | None
    git_dirty: bool | None
    notebook: str | None
    parameters: dict[str, Any]
    start: str
    end: str | None
    duration_s: float | None
    stage: str | None
    error: dict[str, Any] | None
    notebook_file: str | None
    notebook_sha256: str | None
    parent: str | None
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
        return canonical(self.to_dict())


@dataclass(frozen=True)
class IndexProblem:
    """Something wrong with one line of an index (or with the index as a whole, line None)."""

    line: int | None
    record_id: str | None
    problem: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "the index"
        named = f"record {self.record_id!r} ({where})" if self.record_id else where
        return f"{named}: {self.problem}"


def record_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON, without its own `hash` field."""
    return hashlib.sha256(canonical({k: v for k, v in data.items() if k != "hash"}).encode()).hexdigest()


def canonical(data: Mapping[str, Any]) -> str:
    """The one serialisation that is hashed, stored and uploaded."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_root(settings: Settings | None = None) -> Path:
    """Where audit records live: $TRADAI_AUDIT_DIR, else settings.audit_dir (default runs/) under the project root."""
    override = os.environ.get(AUDIT_DIR_VARIABLE)
    if override:
        return Path(override).expanduser().resolve()
    return (PROJECT_ROOT / (settings.audit_dir if settings is not None else "runs")).resolve()


class AuditStore:
    """One audit folder: its chain id, its index and the notebooks its records keep."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.index = self.root / INDEX_FILE
        self.chain_file = self.root / CHAIN_FILE

    @classmethod
    def for_settings(cls, settings: Settings | None) -> AuditStore:
        return cls(audit_root(settings))

    def chain_id(self) -> str | None:
        """The chain's id, or None before the first record (or when chain.json is unreadable)."""
        try:
            data = json.loads(self.chain_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None

    def lines(self) -> tuple[list[dict[str, Any]], list[IndexProblem]]:
        """Every line of the index that parses as a record (in order), and the problems of the index as found by
        reading it: lines that are not JSON or not records, hashes, links, sequence numbers and chain ids that do not
        match. An index that does not exist is no problem here (the caller decides)."""
        try:
            raw = self.index.read_bytes()
        except FileNotFoundError:
            return [], []
        except OSError as exc:
            return [], [IndexProblem(None, None, f"cannot be read ({exc})")]
        return check_chain(raw, self.chain_id())

    def records(self) -> list[AuditRecord]:
        """All records, oldest first; a damaged index raises AuditError naming its first problem."""
        records, problems = self.lines()
        if problems:
            raise AuditError(f"{self.index}: {problems[0]}; `tradai-nb audit verify` lists every problem")
        return [AuditRecord.from_dict(r) for r in records]

    def append(self, entry: Mapping[str, Any], notebook: Mapping[str, Any] | bytes | None = None) -> AuditRecord:
        """Append one record, durably (fsync) and only to an intact index; the notebook it keeps is written first.

        `entry` holds the record's own fields (id, kind, status, ...); the store adds chain, seq, notebook_file,
        notebook_sha256, prev_hash and hash. Raises AuditStoreError — naming the file, the line and the fix — when
        the folder cannot be written or the index is damaged: the caller must then refuse its change.
        """
        with _append_lock, self._locked():
            records, problems = self.lines()
            if problems:
                raise AuditStoreError(self._damage_message(problems[0]))
            chain = self.chain_id()
            new_chain = chain is None
            if new_chain:
                if records or self.chain_file.exists():
                    raise AuditStoreError(
                        self._damage_message(IndexProblem(None, None, f"{CHAIN_FILE} is missing or unreadable"))
                    )
                chain = self._new_chain()
            elif not records:
                state = "empty" if self.index.exists() else "missing"
                raise AuditStoreError(
                    self._damage_message(
                        IndexProblem(None, None, f"it is {state}, but chain {chain} has begun ({CHAIN_FILE})")
                    )
                )
            fields_ = dict(entry)
            notebook_file, notebook_sha = None, None
            if notebook is None:
                fields_.pop("notebook_file", None)
            else:
                content = notebook if isinstance(notebook, bytes) else notebook_bytes(notebook)
                notebook_file = fields_.pop("notebook_file", None) or self.notebook_path_for(fields_)
                self._write(self.root / notebook_file, content)
                notebook_sha = hashlib.sha256(content).hexdigest()
            record = AuditRecord(
                **{
                    **fields_,
                    "chain": chain,
                    "seq": len(records) + 1,
                    "notebook_file": notebook_file,
                    "notebook_sha256": notebook_sha,
                    "prev_hash": records[-1]["hash"] if records else None,
                },
            )
            record.hash = record_hash(record.to_dict())
            try:
                self._append_line(record.to_line())
            except AuditStoreError:
                if new_chain:
                    self.chain_file.unlink(missing_ok=True)
                raise
            return record

    def new_id(self, started: datetime, name: str) -> str:
        """A record id unique in this folder: UTC start and a name, plus a short random part (several processes may
        start a change in the same second)."""
        return f"{started:%Y%m%dT%H%M%SZ}-{_UNSAFE_NAME.sub('-', name).strip('-')}-{uuid.uuid4().hex[:6]}"

    def notebook_path_for(self, entry: Mapping[str, Any]) -> str:
        """Where a record's notebook is kept in the folder: <environment>/<date>/<id>[.<outcome>].ipynb."""
        started = parse_iso(entry["start"])
        suffix = "" if entry.get("status") == STARTED else f".{entry.get('status')}"
        return Path(str(entry["environment"]), f"{started:%Y-%m-%d}", f"{entry['id']}{suffix}.ipynb").as_posix()

    def _new_chain(self) -> str:
        chain = uuid.uuid4().hex
        content = json.dumps({"id": chain, "created": timestamp(datetime.now(UTC))}, indent=2) + "\n"
        self._write(self.chain_file, content.encode())
        return chain

    def _damage_message(self, problem: IndexProblem) -> str:
        return (
            f"the audit index {self.index} is damaged ({problem}), so no change can be recorded ahead of it and the "
            "change was refused: nothing was touched. `tradai-nb audit verify` lists every problem. To record again, "
            f"move {self.index} and {self.chain_file} aside together (keep them: they are the evidence); the next "
            "change starts a new chain"
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = (self.root / LOCK_FILE).open("a")
        except OSError as exc:
            raise AuditStoreError(self._unwritable(exc)) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append_line(self, line: str) -> None:
        created = not self.index.exists()
        try:
            with self.index.open("ab") as out:
                out.write(line.encode("utf-8") + b"\n")
                out.flush()
                os.fsync(out.fileno())
            if created:
                fsync_directory(self.root)
        except OSError as exc:
            raise AuditStoreError(self._unwritable(exc)) from None

    def _write(self, path: Path, content: bytes) -> None:
        try:
            write_atomically(path, content)
        except OSError as exc:
            raise AuditStoreError(self._unwritable(exc)) from None

    def _unwritable(self, exc: OSError) -> str:
        return (
            f"the audit folder {self.root} cannot be written ({exc.strerror or exc}: {exc.filename or self.root}), so "
            "no change can be recorded ahead of it and the change was refused: nothing was touched. Make the folder "
            f"writable, or point ${AUDIT_DIR_VARIABLE} (or audit_dir in the params file) at one that is"
        )


def check_chain(raw: bytes, chain: str | None) -> tuple[list[dict[str, Any]], list[IndexProblem]]:
    """The records of an index's bytes and every problem found in them (see AuditStore.lines)."""
    records: list[dict[str, Any]] = []
    problems: list[IndexProblem] = []
    expected_fields = {f.name for f in fields(AuditRecord)}
    lines = raw.split(b"\n")
    unfinished = bool(raw) and not raw.endswith(b"\n")
    if not unfinished:
        lines = lines[:-1]
    previous_hash: str | object | None = None
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
        except ValueError:
            found = re.search(rb'"id":"([^"]*)"', line)
            problems.append(
                IndexProblem(
                    number,
                    found[1].decode(errors="replace") if found else None,
                    "is not valid JSON (the index was changed after it was written, or a write was cut short)",
                )
            )
            previous_hash = _UNKNOWN
            continue
        if not isinstance(data, dict) or not expected_fields <= set(data):
            problems.append(
                IndexProblem(
                    number,
                    data.get("id") if isinstance(data, dict) else None,
                    "is not an audit record (fields are missing)",
                )
            )
            previous_hash = _UNKNOWN
            continue
        name = data.get("id")
        if record_hash(data) != data.get("hash"):
            problems.append(
                IndexProblem(
                    number, name, "its content does not match its hash: the record was changed after it was written"
                )
            )
        elif previous_hash is not _UNKNOWN and data.get("prev_hash") != previous_hash:
            problems.append(
                IndexProblem(
                    number,
                    name,
                    "its prev_hash does not match the record before it: records were removed, reordered or inserted",
                )
            )
        elif data.get("seq") != number:
            problems.append(
                IndexProblem(
                    number,
                    name,
                    f"its sequence number is {data.get('seq')}, but it is line "
                    f"{number}: records were removed or inserted before it",
                )
            )
        if chain is not None and data.get("chain") != chain:
            problems.append(
                IndexProblem(
                    number,
                    name,
                    f"it belongs to chain {data.get('chain')}, not to this folder's chain {chain} ({CHAIN_FILE})",
                )
            )
        records.append(data)
        previous_hash = data.get("hash")
    if unfinished:
        problems.append(
            IndexProblem(
                len(lines),
                records[-1].get("id") if records else None,
                "the last line has no final newline: a write was cut short or the index was edited",
            )
        )
    return records, problems


_UNKNOWN = object()


def read_records(root: Path) -> list[AuditRecord]:
    """All records of an audit directory, oldest first (none if it holds no index yet)."""
    return AuditStore(root).records()


@dataclass(frozen=True)
class Entry:
    """A run or change as `audit list` shows it: its started line (if any) merged with its outcome line."""

    id: str
    kind: str
    origin: str
    action: str
    target: str
    environment: str
    status: str
    start: str
    end: str | None
    duration_s: float | None
    operator: str
    parent: str | None
    error: dict[str, Any] | None
    records: tuple[AuditRecord, ...]

    @property
    def last(self) -> AuditRecord:
        return self.records[-1]


def entries(records: Sequence[AuditRecord]) -> list[Entry]:
    """Records grouped by id, in order of their first line; an entry still `started` never recorded its outcome
    (it is running, or its process died)."""
    grouped: dict[str, list[AuditRecord]] = {}
    for record in records:
        grouped.setdefault(record.id, []).append(record)
    result = []
    for record_id, group in grouped.items():
        first, last = group[0], group[-1]
        result.append(
            Entry(
                record_id,
                first.kind,
                first.origin,
                first.action,
                first.target,
                first.environment,
                last.status,
                first.start,
                last.end,
                last.duration_s,
                first.operator,
                first.parent,
                last.error,
                tuple(group),
            )
        )
    return result


def list_records(root: Path, environment: str | None = None, since: datetime | None = None) -> list[Entry]:
    """Runs and changes of one environment (or all) that started at or after `since`."""
    return [
        e
        for e in entries(read_records(root))
        if (environment is None or e.environment == environment) and (since is None or parse_iso(e.start) >= since)
    ]


def find_record(root: Path, record_id: str) -> Entry:
    """The run or change with this id, or the only one whose id starts with it."""
    found = entries(read_records(root))
    exact = [e for e in found if e.id == record_id]
    matches = exact or [e for e in found if e.id.startswith(record_id)]
    if not matches:
        raise AuditError(f"no audit record {record_id!r} in {root / INDEX_FILE}; `tradai-nb audit list` shows the ids")
    if len(matches) > 1:
        raise AuditError(
            f"{record_id!r} matches {len(matches)} records ({', '.join(e.id for e in matches[:5])}); "
            "give more of the id"
        )
    return matches[0]


def records_table(found: Sequence[Entry]):
    """Runs and changes as a table, one row each."""
    import pandas as pd

    return pd.DataFrame([{c: getattr(e, c) for c in RECORD_COLUMNS} for e in found], columns=RECORD_COLUMNS)


def local_problems(store: AuditStore) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a folder and everything its local chain shows to be wrong: damaged lines, broken links,
    notebooks missing, changed, or kept without a record, an index missing or emptied after its chain began."""
    problems: list[str] = []
    if not store.root.is_dir():
        return [], [
            f"{store.root}: there is no audit folder here (nothing was ever recorded here, or it was "
            "removed); check $TRADAI_AUDIT_DIR and audit_dir in the params files"
        ]
    records, index_problems = store.lines()
    problems += [f"{store.index}: {p}" for p in index_problems]
    chain = store.chain_id()
    if chain is None and (records or store.chain_file.exists()):
        problems.append(f"{store.chain_file}: missing or unreadable, but the index holds records")
    if not records and chain is not None:
        state = "empty" if store.index.exists() else "missing"
        problems.append(f"{store.index}: the index is {state}, but chain {chain} has begun ({CHAIN_FILE})")
    referenced = set()
    for record in records:
        if not record.get("notebook_file"):
            continue
        referenced.add(str(record["notebook_file"]))
        stored = store.root / str(record["notebook_file"])
        name = f"record {record.get('id')!r} (line {record.get('seq')})"
        if not stored.is_file():
            problems.append(f"{name}: its notebook {stored} is missing")
        elif hashlib.sha256(stored.read_bytes()).hexdigest() != record.get("notebook_sha256"):
            problems.append(
                f"{name}: its notebook {stored} does not match its SHA-256: the notebook was changed "
                "after it was recorded"
            )
    for path in sorted(store.root.glob("*/*/*.ipynb")):
        if path.relative_to(store.root).as_posix() not in referenced:
            problems.append(f"{path}: a notebook no record of the index refers to (added, or its record removed)")
    return records, problems


def notebook_bytes(notebook: Mapping[str, Any]) -> bytes:
    """A notebook (JSON data) as stored: nbformat's own serialisation."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(copy.deepcopy(dict(notebook)))).encode("utf-8")


def timestamp(moment: datetime) -> str:
    """A UTC time as records keep it: ISO 8601 with milliseconds and Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
