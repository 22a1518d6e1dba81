"""Anchoring audit chains: every record and notebook uploaded under S3 Object Lock, and the local chain compared with
those copies."""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tradai_nb import config
from tradai_nb.errors import AwsAccessError, SettingsError
from tradai_nb.files import write_atomically
from tradai_nb.records.audit import AuditStore, canonical, local_problems
from tradai_nb.settings import Settings, load_settings, port_answers, recorded_sandbox
from tradai_nb.timefmt import parse_iso

UPLOAD_PREFIX = config.AUDIT_KEY_PREFIX
# Bookkeeping only (which lines were uploaded for which environment): verification trusts the bucket, not this file.
UPLOADS_FILE = "uploads.json"
UPLOADS_LOCK_FILE = "uploads.lock"
OBJECT_LOCK_MODE = "GOVERNANCE"
_PARALLEL_READS = 8


@dataclass(frozen=True)
class UploadResult:
    """What an upload did: the bucket, how many records went up, and the error that stopped it (None: all went)."""

    bucket: str | None
    uploaded: int = 0
    error: str | None = None


@dataclass
class Verification:
    """What `audit verify` found for one audit folder."""

    root: str
    chain: str | None
    records: int = 0
    problems: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.unreachable


def record_key(chain: str, seq: int) -> str:
    return f"{UPLOAD_PREFIX}/{chain}/records/{seq:08d}.json"


def notebook_key(chain: str, notebook_file: str) -> str:
    return f"{UPLOAD_PREFIX}/{chain}/notebooks/{notebook_file}"


def upload_pending(store: AuditStore, settings: Settings) -> UploadResult:
    """Upload the records (and their notebooks) of settings.environment that are not in its logs bucket yet: the
    newest and any earlier one whose upload failed. Object Lock (governance mode, audit_retention_days) keeps each
    copy from being rewritten or deleted. Failures are returned, never raised: the local record is already safe."""
    if not settings.audit_upload:
        return UploadResult(None)
    bucket = config.get_bucket_name(config.LOGS_BUCKET_KEY, settings.environment)
    chain = store.chain_id()
    if chain is None:
        return UploadResult(bucket)
    try:
        with _uploads_locked(store):
            marks = _read_marks(store)
            mark = int(marks.get(settings.environment, 0))
            records, _ = store.lines()
            pending = [r for r in records if r.get("environment") == settings.environment and r.get("seq", 0) > mark]
            if not pending:
                return UploadResult(bucket)
            s3 = _client(settings)
            retain_until = datetime.now(UTC) + timedelta(days=settings.audit_retention_days)
            lock = {"ObjectLockMode": OBJECT_LOCK_MODE, "ObjectLockRetainUntilDate": retain_until}
            done = 0
            for record in pending:
                if record.get("notebook_file"):
                    body = (store.root / record["notebook_file"]).read_bytes()
                    s3.put_object(
                        Bucket=bucket,
                        Key=notebook_key(chain, record["notebook_file"]),
                        Body=body,
                        ContentType="application/x-ipynb+json",
                        **lock,
                    )
                s3.put_object(
                    Bucket=bucket,
                    Key=record_key(chain, record["seq"]),
                    Body=canonical(record).encode(),
                    ContentType="application/json",
                    **lock,
                )
                done += 1
                marks[settings.environment] = record["seq"]
                _write_marks(store, marks)
            return UploadResult(bucket, done)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the local record stays whole
        return UploadResult(bucket, error=_describe(exc, bucket))


def verify(store: AuditStore, environments: list[str] | None = None, *, compare: bool = True) -> Verification:
    """The local chain checked on its own, then compared with its uploaded copies in the logs bucket of every
    environment it holds records of (always `local`'s, the sandbox): records missing locally (a removed tail, an
    emptied or deleted index), rewritten (a chain recomputed after an edit), appended without an upload (forged),
    notebooks changed or kept without a record. A bucket that cannot be read is listed as unreachable."""
    records, problems = local_problems(store)
    result = Verification(str(store.root), store.chain_id(), len(records), problems)
    if result.chain is None:
        if not problems:
            result.problems.append(
                f"{store.root}: no audit chain here (no {store.index.name}, no chain id): nothing "
                "was recorded in this folder, or its index and chain id were both removed"
            )
        return result
    if not compare:
        result.notes.append(
            "compared with no uploaded copy (--local-only): edits that recompute the whole chain, "
            "a removed tail and a removed index are not visible to a local check"
        )
        return result
    wanted = environments or sorted({str(r.get("environment")) for r in records} | {"local"})
    for environment in wanted:
        try:
            settings = load_settings(environment)
        except SettingsError as exc:
            result.unreachable.append(f"{environment}: its settings cannot be loaded ({exc})")
            continue
        if not settings.audit_upload:
            result.notes.append(f"{environment}: audit_upload is off in its params file; its records are not anchored")
            continue
        _compare(result, store, records, settings)
    return result


def _compare(result: Verification, store: AuditStore, records: list[dict[str, Any]], settings: Settings) -> None:
    environment = settings.environment
    bucket = config.get_bucket_name(config.LOGS_BUCKET_KEY, environment)
    chain = result.chain
    if chain is None:  # verify() compares only a chain that has its id
        raise RuntimeError(f"{store.root}: the audit chain has no id to compare its uploaded copies by")
    try:
        s3 = _client(settings)
        uploaded_records = _listed(s3, bucket, f"{UPLOAD_PREFIX}/{chain}/records/")
        uploaded_notebooks = _listed(s3, bucket, f"{UPLOAD_PREFIX}/{chain}/notebooks/")
        bodies = _read_all(s3, bucket, sorted(uploaded_records))
    except Exception as exc:  # noqa: BLE001 - whatever stops the comparison is reported as unreachable
        result.unreachable.append(f"{environment}: s3://{bucket} cannot be read ({_describe(exc, bucket)})")
        return
    result.compared.append(f"{environment}: s3://{bucket}/{UPLOAD_PREFIX}/{chain}/ ({len(uploaded_records)} records)")
    by_seq = {r.get("seq"): r for r in records}
    uploaded_seqs = set()
    for key, body in bodies.items():
        try:
            copy = json.loads(body)
            seq = int(copy["seq"])
        except (ValueError, KeyError, TypeError):
            result.problems.append(f"s3://{bucket}/{key}: the uploaded copy is not a record")
            continue
        uploaded_seqs.add(seq)
        local = by_seq.get(seq)
        if local is None:
            result.problems.append(
                f"record {copy.get('id')!r} (seq {seq}, {copy.get('status')}, uploaded to "
                f"s3://{bucket}) is missing from the local index: records were removed "
                "(a deleted tail, an emptied or replaced index)"
            )
        elif canonical(local).encode() != body:
            result.problems.append(
                f"record {local.get('id')!r} (seq {seq}) differs from its uploaded copy in "
                f"s3://{bucket}/{key}: the local record was rewritten (the chain recomputed after "
                "an edit)"
            )
    started = _sandbox_started(settings)
    for record in records:
        if record.get("environment") != environment or record.get("seq") in uploaded_seqs:
            continue
        if started is not None and parse_iso(str(record.get("start"))) < started:
            result.notes.append(
                f"record {record.get('id')!r} (seq {record.get('seq')}) predates the running sandbox "
                "(its uploaded copy went to an earlier one, which keeps nothing once stopped)"
            )
            continue
        result.problems.append(
            f"record {record.get('id')!r} (seq {record.get('seq')}) is not in the uploaded copy "
            f"in s3://{bucket}: it was appended without being anchored (forged), or its upload "
            "failed; `tradai-nb audit upload` uploads it once you know it is genuine"
        )
    referenced = {
        notebook_key(chain, r["notebook_file"]): r
        for r in records
        if r.get("notebook_file") and r.get("environment") == environment
    }
    for key in sorted(uploaded_notebooks):
        if key not in referenced:
            result.problems.append(f"s3://{bucket}/{key}: an uploaded notebook no local record refers to")
    for key, record in referenced.items():
        if record.get("seq") in uploaded_seqs and key not in uploaded_notebooks:
            result.problems.append(
                f"record {record.get('id')!r} (seq {record.get('seq')}): its notebook is not in s3://{bucket}/{key}"
            )
        elif key in uploaded_notebooks and uploaded_notebooks[key] != _md5(store, record):
            result.problems.append(
                f"record {record.get('id')!r} (seq {record.get('seq')}): its local notebook "
                f"differs from the uploaded copy s3://{bucket}/{key}"
            )


def _md5(store: AuditStore, record: dict[str, Any]) -> str | None:
    try:
        return hashlib.md5((store.root / record["notebook_file"]).read_bytes(), usedforsecurity=False).hexdigest()
    except OSError:
        return None


def _listed(s3, bucket: str, prefix: str) -> dict[str, str]:
    """Keys under a prefix with their ETags (a single-part upload's ETag is the MD5 of its bytes)."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["ETag"].strip('"')
    return found


def _read_all(s3, bucket: str, keys: list[str]) -> dict[str, bytes]:
    def read(key: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    with ThreadPoolExecutor(max_workers=_PARALLEL_READS) as pool:
        return dict(zip(keys, pool.map(read, keys), strict=True))


def _client(settings: Settings):
    from botocore.config import Config

    from tradai_nb.aws import session_for

    if settings.is_local and not port_answers(settings.sandbox_port):
        raise AwsAccessError(f"the sandbox is not running on port {settings.sandbox_port} (`tradai-nb sandbox start`)")
    # Few, short retries: an unreachable bucket must not hold a change (or the upload lock) for minutes.
    return session_for(settings).client(
        "s3", config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=20)
    )


def _sandbox_started(settings: Settings) -> datetime | None:
    if not settings.is_local:
        return None
    running = recorded_sandbox()
    return parse_iso(running["started_at"]) if running else None


def _describe(exc: Exception, bucket: str) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "InvalidRequest" and "Object Lock" in str(exc):
            return (
                f"{type(exc).__name__}: {exc}; the bucket {bucket} has no Object Lock: deploy the persistent "
                "stack, which turns it on for the logs bucket"
            )
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def _uploads_locked(store: AuditStore) -> Iterator[None]:
    with (store.root / UPLOADS_LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_marks(store: AuditStore) -> dict[str, Any]:
    try:
        data = json.loads((store.root / UPLOADS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_marks(store: AuditStore, marks: dict[str, Any]) -> None:
    write_atomically(store.root / UPLOADS_FILE, (json.dumps(marks, indent=2, sort_keys=True) + "\n").encode())
