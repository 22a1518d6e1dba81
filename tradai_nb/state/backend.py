"""The Pulumi state backend as the CLI lays it out (an S3 bucket or a folder): stacks, checkpoints, locks, history."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import pandas as pd
import yaml
from botocore.exceptions import ClientError

from tradai_nb import config, troubleshooting
from tradai_nb.aws import aws_errors
from tradai_nb.errors import ParameterError, StackNotDeployedError, StateError
from tradai_nb.files import write_atomically
from tradai_nb.settings import Settings, local_folder
from tradai_nb.stacks.registry import stacks
from tradai_nb.timefmt import parse_iso

if TYPE_CHECKING:
    pass

# The layout of pulumi/pulumi pkg/backend/diy (project-scoped, meta.yaml version 1).
BOOKKEEPING_DIR = ".pulumi"
META_KEY = f"{BOOKKEEPING_DIR}/meta.yaml"
STACKS_DIR = f"{BOOKKEEPING_DIR}/stacks"
LOCKS_DIR = f"{BOOKKEEPING_DIR}/locks"
HISTORY_DIR = f"{BOOKKEEPING_DIR}/history"
LAYOUT_VERSION = 1
ORGANIZATION = "organization"
CHECKPOINT_VERSION = 3
GZIP_MAGIC = b"\x1f\x8b"
STACK_TYPE = "pulumi:pulumi:Stack"

STACK_COLUMNS = ["stack", "project", "resources", "pending_operations", "updated", "checkpoint"]


@dataclass(frozen=True)
class StoredObject:
    """One object of a store: its key relative to the store's root, size and last change."""

    key: str
    size_bytes: int
    modified: datetime


class ObjectStore(Protocol):
    """Keys and bytes: an S3 bucket (and prefix) or a folder."""

    url: str

    def read(self, key: str) -> bytes: ...

    def write(self, key: str, data: bytes) -> None: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> list[StoredObject]: ...

    def exists(self, key: str) -> bool: ...

    def url_for(self, key: str) -> str: ...


class S3ObjectStore:
    """Objects under s3://bucket/prefix, through a session of the environment."""

    def __init__(self, session: boto3.Session, bucket: str, prefix: str = "") -> None:
        self.session = session
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def read(self, key: str) -> bytes:
        try:
            return self.session.client("s3").get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                raise StateError(f"{self.url_for(key)} does not exist") from None
            with aws_errors(f"reading {self.url_for(key)}"):
                raise

    def write(self, key: str, data: bytes) -> None:
        with aws_errors(f"writing {self.url_for(key)}"):
            self.session.client("s3").put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def delete(self, key: str) -> None:
        with aws_errors(f"deleting {self.url_for(key)}"):
            self.session.client("s3").delete_object(Bucket=self.bucket, Key=self.prefix + key)

    def list(self, prefix: str = "") -> list[StoredObject]:
        s3 = self.session.client("s3")
        found = []
        with aws_errors(f"listing {self.url_for(prefix)}"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    found.append(StoredObject(item["Key"][len(self.prefix) :], item["Size"], item["LastModified"]))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        try:
            self.session.client("s3").head_object(Bucket=self.bucket, Key=self.prefix + key)
        except ClientError as exc:
            if _missing(exc):
                return False
            with aws_errors(f"looking up {self.url_for(key)}"):
                raise
        return True


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


class FolderObjectStore:
    """Objects as files under a folder; writes are atomic (files.write_atomically: a unique temporary file, fsync,
    then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def _path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts:
            raise StateError(f"key {key!r} would leave the store {self.url}")
        return self.root.joinpath(*relative.parts)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StateError(f"{self.url_for(key)} does not exist") from None
        except OSError as exc:
            raise StateError(f"cannot read {self.url_for(key)} ({exc})") from None

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise StateError(f"cannot write {self.url_for(key)} ({exc})") from None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StateError(f"cannot delete {self.url_for(key)} ({exc})") from None

    def list(self, prefix: str = "") -> list[StoredObject]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.endswith(".tmp"):
                stat = path.stat()
                found.append(StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return sorted(found, key=lambda o: o.key)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def open_object_store(url: str, session: boto3.Session | None) -> ObjectStore:
    """The store behind s3://bucket[/prefix] or file://folder (relative folders: settings.local_folder)."""
    if url.startswith("s3://"):
        if session is None:
            raise StateError(f"{url} is in S3: a boto3 session of the environment is needed to read it")
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3ObjectStore(session, bucket, prefix)
    if url.startswith("file://"):
        return FolderObjectStore(local_folder(url))
    raise StateError(f"{url!r} is not a self-managed store URL; expected s3://bucket[/prefix] or file://folder")


@dataclass(frozen=True, order=True)
class StackRef:
    """One stack on the backend: its Pulumi project and stack name (the environment)."""

    project: str
    stack: str

    @property
    def fully_qualified(self) -> str:
        return f"{ORGANIZATION}/{self.project}/{self.stack}"

    @property
    def stack_name(self) -> str:
        """The tradai stack (persistent, foundation, ...) this project holds."""
        return self.project.removeprefix(f"{config.PROJECT_NAME}-")


def stack_ref(stack: str, environment: str) -> StackRef:
    """The backend reference of one tradai stack in one environment."""
    return StackRef(config.get_stack_project(stacks.get(stack).name), environment)


def checkpoint_key(ref: StackRef, *, compressed: bool = False) -> str:
    return f"{STACKS_DIR}/{ref.project}/{ref.stack}.json" + (".gz" if compressed else "")


def lock_dir(ref: StackRef) -> str:
    return f"{LOCKS_DIR}/{ORGANIZATION}/{ref.project}/{ref.stack}"


def lock_key(ref: StackRef, lock_id: str) -> str:
    return f"{lock_dir(ref)}/{lock_id}.json"


def history_dir(ref: StackRef) -> str:
    return f"{HISTORY_DIR}/{ref.project}/{ref.stack}"


@dataclass(frozen=True)
class StateLock:
    """A lock file: which stack, who took it, where, and when (None when the file does not say)."""

    ref: StackRef
    lock_id: str
    key: str
    url: str
    pid: int | None
    username: str
    hostname: str
    timestamp: datetime | None

    def age(self, now: datetime) -> timedelta | None:
        return None if self.timestamp is None else now - self.timestamp


@dataclass(frozen=True)
class HistoryEntry:
    """One past update of a stack, as the backend's .history.json records it."""

    ref: StackRef
    key: str
    kind: str
    result: str
    version: int | None
    start_time: datetime | None
    end_time: datetime | None
    message: str
    resource_changes: dict[str, int]


class StateStore:
    """The bookkeeping of a self-managed Pulumi backend: stacks, checkpoints, locks and history."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    @property
    def url(self) -> str:
        return self.objects.url

    def layout_version(self) -> int | None:
        """The version in .pulumi/meta.yaml (1: project-scoped), or None before the backend was first used."""
        if not self.objects.exists(META_KEY):
            return None
        try:
            meta = yaml.safe_load(self.objects.read(META_KEY)) or {}
        except yaml.YAMLError as exc:
            raise StateError(f"{self.objects.url_for(META_KEY)} is not valid YAML ({exc})") from None
        return meta.get("version") if isinstance(meta, dict) else None

    def write_meta(self) -> None:
        self.objects.write(META_KEY, yaml.safe_dump({"version": LAYOUT_VERSION}).encode())

    def stacks(self) -> list[StackRef]:
        """Every stack that has a checkpoint (.json or .json.gz; .bak and other files are not stacks)."""
        found = set()
        for obj in self.objects.list(f"{STACKS_DIR}/"):
            parts = obj.key[len(STACKS_DIR) + 1 :].split("/")
            if len(parts) != 2:
                continue
            name = parts[1].removesuffix(".gz")
            if name.endswith(".json") and len(name) > len(".json"):
                found.add(StackRef(parts[0], name.removesuffix(".json")))
        return sorted(found)

    def existing_checkpoint_key(self, ref: StackRef) -> str | None:
        """The stack's checkpoint object; when both forms exist, the newer one (as the CLI picks it)."""
        candidates = {checkpoint_key(ref), checkpoint_key(ref, compressed=True)}
        found = [o for o in self.objects.list(checkpoint_key(ref)) if o.key in candidates]
        return max(found, key=lambda o: o.modified).key if found else None

    def read_checkpoint(self, ref: StackRef) -> dict[str, Any]:
        """The stack's checkpoint: {"version": 3, "checkpoint": {"stack": ..., "latest": DEPLOYMENT}}."""
        key = self.existing_checkpoint_key(ref)
        if key is None:
            raise StateError(
                f"stack {ref.fully_qualified} has no checkpoint on {self.url} (looked for "
                f"{checkpoint_key(ref)} and .json.gz): it was never deployed there, or pulumi_backend_url is wrong"
            )
        checkpoint = parse_json(self.objects.read(key), self.objects.url_for(key))
        if (
            not isinstance(checkpoint, dict)
            or checkpoint.get("version") != CHECKPOINT_VERSION
            or not isinstance(checkpoint.get("checkpoint"), dict)
        ):
            raise StateError(
                f"{self.objects.url_for(key)} is not a version {CHECKPOINT_VERSION} Pulumi checkpoint. "
                + troubleshooting.entry("state-corrupt").advice(stack=ref.stack_name, env=ref.stack)
            )
        return checkpoint

    def write_checkpoint(self, ref: StackRef, deployment: Mapping[str, Any], *, compressed: bool = False) -> str:
        """Write the stack's checkpoint, keeping the previous one as .bak beside it as the CLI does."""
        key = checkpoint_key(ref, compressed=compressed)
        if self.objects.exists(key):
            self.objects.write(f"{key}.bak", self.objects.read(key))
        checkpoint = {
            "version": CHECKPOINT_VERSION,
            "checkpoint": {"stack": ref.fully_qualified, "config": {}, "latest": dict(deployment)},
        }
        data = json.dumps(checkpoint, indent=4).encode()
        self.objects.write(key, gzip.compress(data, mtime=0) if compressed else data)
        return key

    def read_deployment(self, ref: StackRef) -> dict[str, Any]:
        """The stack's state as `pulumi stack export` prints it: {"version": 3, "deployment": DEPLOYMENT}."""
        latest = self.read_checkpoint(ref)["checkpoint"].get("latest")
        if not isinstance(latest, dict):
            raise StateError(f"the checkpoint of {ref.fully_qualified} on {self.url} holds no deployment (latest)")
        return {"version": CHECKPOINT_VERSION, "deployment": latest}

    def locks(self, ref: StackRef | None = None) -> list[StateLock]:
        """Lock files of one stack, or of every stack."""
        prefix = f"{lock_dir(ref)}/" if ref else f"{LOCKS_DIR}/{ORGANIZATION}/"
        found = []
        for obj in self.objects.list(prefix):
            parts = obj.key[len(LOCKS_DIR) + 1 :].split("/")
            if len(parts) != 4 or parts[0] != ORGANIZATION or not parts[3].endswith(".json"):
                continue
            found.append(self._lock(StackRef(parts[1], parts[2]), parts[3].removesuffix(".json"), obj.key))
        return found

    def _lock(self, ref: StackRef, lock_id: str, key: str) -> StateLock:
        try:
            content = json.loads(self.objects.read(key))
        except (ValueError, UnicodeDecodeError):
            content = {}
        content = content if isinstance(content, dict) else {}
        pid = content.get("pid")
        return StateLock(
            ref=ref,
            lock_id=lock_id,
            key=key,
            url=self.objects.url_for(key),
            pid=pid if isinstance(pid, int) else None,
            username=str(content.get("username", "")),
            hostname=str(content.get("hostname", "")),
            timestamp=parse_time(content.get("timestamp")),
        )

    def write_lock(
        self, ref: StackRef, lock_id: str, *, pid: int, username: str, hostname: str, timestamp: datetime
    ) -> str:
        key = lock_key(ref, lock_id)
        content = {"pid": pid, "username": username, "hostname": hostname, "timestamp": format_time(timestamp)}
        self.objects.write(key, json.dumps(content).encode())
        return key

    def history(self, ref: StackRef) -> list[HistoryEntry]:
        """The stack's updates, newest first (file names carry the start time, so key order is time order)."""
        entries = []
        for obj in reversed(self.objects.list(f"{history_dir(ref)}/")):
            if not obj.key.endswith((".history.json", ".history.json.gz")):
                continue
            update = parse_json(self.objects.read(obj.key), self.objects.url_for(obj.key))
            update = update if isinstance(update, dict) else {}
            entries.append(
                HistoryEntry(
                    ref=ref,
                    key=obj.key,
                    kind=str(update.get("kind", "")),
                    result=str(update.get("result", "")),
                    version=update.get("version"),
                    start_time=_unix_time(update.get("startTime")),
                    end_time=_unix_time(update.get("endTime")),
                    message=str(update.get("message", "")),
                    resource_changes=dict(update.get("resourceChanges") or {}),
                )
            )
        return entries

    def add_history(
        self,
        ref: StackRef,
        *,
        kind: str,
        result: str,
        version: int,
        start: datetime,
        end: datetime,
        resource_changes: Mapping[str, int],
        message: str = "",
    ) -> str:
        """Record an update as the CLI does: <stack>-<unix ns>.history.json plus a copy of the checkpoint."""
        prefix = f"{history_dir(ref)}/{ref.stack}-{int(start.timestamp() * 1_000_000_000)}"
        update = {
            "kind": kind,
            "startTime": int(start.timestamp()),
            "message": message,
            "environment": {},
            "config": {},
            "version": version,
            "result": result,
            "endTime": int(end.timestamp()),
            "resourceChanges": dict(resource_changes),
        }
        self.objects.write(f"{prefix}.history.json", json.dumps(update).encode())
        source = self.existing_checkpoint_key(ref)
        if source is not None:
            self.objects.write(f"{prefix}.checkpoint.json", self.objects.read(source))
        return f"{prefix}.history.json"

    def overview(self, environment: str) -> pd.DataFrame:
        """The environment's stacks on this backend: resources, pending operations, last change, checkpoint."""
        rows = []
        for ref in environment_stacks(self, environment):
            latest = self.read_deployment(ref)["deployment"]
            rows.append(
                {
                    "stack": ref.stack_name,
                    "project": ref.project,
                    "resources": len(latest.get("resources") or []),
                    "pending_operations": len(latest.get("pending_operations") or []),
                    "updated": str((latest.get("manifest") or {}).get("time", "")),
                    "checkpoint": self.existing_checkpoint_key(ref),
                }
            )
        return pd.DataFrame(rows, columns=STACK_COLUMNS)


def environment_stacks(store: StateStore, environment: str) -> list[StackRef]:
    """The tradai stacks of one environment that have state on the backend, in dependency order."""
    present = set(store.stacks())
    return [ref for ref in (stack_ref(spec.name, environment) for spec in stacks) if ref in present]


def select_stacks(stack: str) -> list[str]:
    """The stacks a runbook's `stack` parameter names: one stack, or all of them for ""."""
    if stack == "":
        return list(stacks.names())
    if stack not in stacks.names():
        raise ParameterError(
            f"parameter 'stack': unknown stack {stack!r}; choose one of {', '.join(stacks.names())} "
            '(or "" for all of them)',
            name="stack",
        )
    return [stack]


def state_store_for(settings: Settings, session: boto3.Session | None) -> StateStore:
    """The backend a runbook reads an environment's state from.

    dev/staging/prod: settings.pulumi_backend_url, the s3:// bucket the Pulumi CLI writes to (a file:// folder
    if an environment is configured that way). local: the sandbox's state bucket
    (config.get_bucket_name(config.STATE_BUCKET_KEY, "local")), not the file:// folder that the Automation API
    uses for local. That bucket holds the rehearsal state the sandbox seeds, laid out exactly as a real S3 backend
    holds it, so on local the runbooks exercise the same S3 reads, writes and lock files they perform on a team
    environment. A deployment made with the Pulumi CLI on local lands in the file:// folder instead; the runbooks
    do not read that folder.
    """
    if settings.is_local:
        bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, settings.environment)
        return StateStore(open_object_store(f"s3://{bucket}", session))
    return StateStore(open_object_store(settings.pulumi_backend_url, session))


def deployed_deployment(
    settings: Settings, session: boto3.Session | None, stack: str, *, action: str, nothing: str
) -> dict[str, Any]:
    """The stack's deployment read from its checkpoint on the environment's backend. A stack with no checkpoint is a
    StackNotDeployedError for `action`; `nothing` says what that means ("nothing is deployed there")."""
    state = state_store_for(settings, session)
    ref = stack_ref(stack, settings.environment)
    if state.existing_checkpoint_key(ref) is None:
        raise StackNotDeployedError(
            f"stack {ref.fully_qualified} has no state on {state.url}: {nothing}; deploy it (action='up') or check "
            "the environment",
            stack=ref.fully_qualified,
            action=action,
        )
    return state.read_deployment(ref)


def parse_json(data: bytes, where: str) -> Any:
    """JSON from a state object, gunzipped first when it is gzip (detected by content, as the CLI does)."""
    try:
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
        return json.loads(data)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise StateError(
            f"{where} is not valid JSON ({type(exc).__name__}: {exc}); the object is corrupt or truncated"
        ) from None


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC, as the CLI writes lock and manifest times."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """A lock's or manifest's time; None for anything that is not one (a lock written by hand stays readable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _unix_time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, (int, float)) and value > 0 else None
