"""Pulumi state on a self-managed backend (s3:// or file://), read and written in the CLI's layout without the CLI."""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import importlib.metadata
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import pandas as pd
import yaml
from botocore.exceptions import ClientError

from tradai_nb import config, troubleshooting
from tradai_nb.errors import GuardError, ParameterError, PulumiCliMissingError, StateError
from tradai_nb.ops import aws_errors
from tradai_nb.settings import Settings, local_folder
from tradai_nb.stacks.registry import stacks

if TYPE_CHECKING:
    from tradai_nb.engine.plan import StackPlan

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
# Property values Pulumi stores encrypted look like {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

STACK_COLUMNS = ["stack", "project", "resources", "pending_operations", "updated", "checkpoint"]

# The rehearsal lock seeded into the sandbox: held by a deploy that died hours ago.
SEEDED_LOCK_STACK = "compute"
SEEDED_LOCK_AGE = timedelta(hours=3)
SEEDED_LOCK_HOLDER = {"pid": 48213, "username": "ci-deployer", "hostname": "build-agent-7"}


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
                    found.append(StoredObject(item["Key"][len(self.prefix):], item["Size"], item["LastModified"]))
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
    """Objects as files under a folder; writes are atomic (temporary file, then rename)."""

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
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            temporary.write_bytes(data)
            temporary.replace(path)
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
                found.append(StoredObject(key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, timezone.utc)))
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
            parts = obj.key[len(STACKS_DIR) + 1:].split("/")
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
        if not isinstance(checkpoint, dict) or checkpoint.get("version") != CHECKPOINT_VERSION \
                or not isinstance(checkpoint.get("checkpoint"), dict):
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
        checkpoint = {"version": CHECKPOINT_VERSION,
                      "checkpoint": {"stack": ref.fully_qualified, "config": {}, "latest": dict(deployment)}}
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
            parts = obj.key[len(LOCKS_DIR) + 1:].split("/")
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
            ref=ref, lock_id=lock_id, key=key, url=self.objects.url_for(key),
            pid=pid if isinstance(pid, int) else None,
            username=str(content.get("username", "")), hostname=str(content.get("hostname", "")),
            timestamp=parse_time(content.get("timestamp")),
        )

    def write_lock(self, ref: StackRef, lock_id: str, *, pid: int, username: str, hostname: str,
                   timestamp: datetime) -> str:
        key = lock_key(ref, lock_id)
        content = {"pid": pid, "username": username, "hostname": hostname, "timestamp": format_time(timestamp)}
        self.objects.write(key, json.dumps(content).encode())
        return key

    def delete_lock(self, lock: StateLock, settings: Settings, *, confirm: str = "") -> None:
        """Delete one lock file of the settings' environment: always needs confirm=<environment> (a live update's
        lock protects the state), and is recorded."""
        from tradai_nb import gate

        def of_this_environment() -> None:
            if lock.ref.stack != settings.environment:
                raise GuardError(f"lock {lock.url} belongs to {lock.ref.fully_qualified}, not to "
                                 f"{settings.environment}; open the state of that environment", name="lock_id")

        with gate.change(settings, "state.lock-delete", target=lock.ref.fully_qualified, confirm=confirm,
                         parameters={"lock": lock.url, "held_by": f"{lock.username}@{lock.hostname}"},
                         checks=[of_this_environment]):
            self.objects.delete(lock.key)

    def history(self, ref: StackRef) -> list[HistoryEntry]:
        """The stack's updates, newest first (file names carry the start time, so key order is time order)."""
        entries = []
        for obj in reversed(self.objects.list(f"{history_dir(ref)}/")):
            if not obj.key.endswith((".history.json", ".history.json.gz")):
                continue
            update = parse_json(self.objects.read(obj.key), self.objects.url_for(obj.key))
            update = update if isinstance(update, dict) else {}
            entries.append(HistoryEntry(
                ref=ref, key=obj.key, kind=str(update.get("kind", "")), result=str(update.get("result", "")),
                version=update.get("version"), start_time=_unix_time(update.get("startTime")),
                end_time=_unix_time(update.get("endTime")), message=str(update.get("message", "")),
                resource_changes=dict(update.get("resourceChanges") or {}),
            ))
        return entries

    def add_history(self, ref: StackRef, *, kind: str, result: str, version: int, start: datetime, end: datetime,
                    resource_changes: Mapping[str, int], message: str = "") -> str:
        """Record an update as the CLI does: <stack>-<unix ns>.history.json plus a copy of the checkpoint."""
        prefix = f"{history_dir(ref)}/{ref.stack}-{int(start.timestamp() * 1_000_000_000)}"
        update = {"kind": kind, "startTime": int(start.timestamp()), "message": message, "environment": {},
                  "config": {}, "version": version, "result": result, "endTime": int(end.timestamp()),
                  "resourceChanges": dict(resource_changes)}
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
            rows.append({
                "stack": ref.stack_name,
                "project": ref.project,
                "resources": len(latest.get("resources") or []),
                "pending_operations": len(latest.get("pending_operations") or []),
                "updated": str((latest.get("manifest") or {}).get("time", "")),
                "checkpoint": self.existing_checkpoint_key(ref),
            })
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
            "(or \"\" for all of them)", name="stack",
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


def reads_through_automation_api(settings: Settings) -> bool:
    """Whether exports and outputs come from the Automation API (Pulumi CLI installed, a team environment) rather
    than straight from the backend's checkpoints. On local the Automation API's backend is a different store than
    the one the runbooks read (see state_store_for), so local always reads the checkpoints."""
    if settings.is_local:
        return False
    from tradai_nb.engine import automation

    try:
        automation.find_pulumi_cli("export")
    except PulumiCliMissingError:
        return False
    return True


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
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _unix_time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, timezone.utc) if isinstance(value, (int, float)) and value > 0 else None


def is_secret(value: Any) -> bool:
    """Whether a state property value is (or holds) an encrypted secret."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return True
        return any(is_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(is_secret(v) for v in value)
    return False


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


# The passphrase secrets provider, exactly as pulumi/pulumi writes and reads it:
# - pkg/secrets/passphrase/manager.go: the state is {"salt": "v1:<std base64 of an 8-byte salt>:<crypter output of
#   the string "pulumi">}; a passphrase opens the state only when that part decrypts to "pulumi".
# - sdk/go/common/resource/config/crypt.go: the key is PBKDF2-HMAC-SHA256(passphrase, salt, 1,000,000 iterations,
#   32 bytes); the crypter seals with AES-256-GCM under a 12-byte nonce (no additional data) and writes
#   "v1:<std base64 nonce>:<std base64 ciphertext and 16-byte tag>" (standard alphabet, padded).
# - pkg/resource/stack/deployment.go (SerializePropertyValue): a secret property value is stored as
#   {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": <crypter output of the value's JSON>}; secrets nested inside a secret
#   are not encrypted again (they are written with the no-op encrypter: "ciphertext" holds their JSON).
PASSPHRASE_STATE_VERSION = "v1"
PASSPHRASE_CHECK = "pulumi"
PBKDF2_ITERATIONS = 1_000_000
KEY_BYTES = 32
SALT_BYTES = 8
NONCE_BYTES = 12

# The passphrase of the sandbox's rehearsal Pulumi state ONLY (PULUMI_CONFIG_PASSPHRASE for a real CLI opening the
# seeded local checkpoints). It is public, in the source, and protects nothing: never use it for a real stack.
LOCAL_PASSPHRASE = "tradai-local-rehearsal"

# PBKDF2 with Pulumi's 1,000,000 iterations costs a noticeable fraction of a second per derivation, so derived keys
# are kept per (passphrase, salt) for the life of the process. Salts are not secret; the passphrases kept here are
# the ones this process was handed anyway.
_derived_keys: dict[tuple[str, bytes], bytes] = {}


def _derive_key(passphrase: str, salt: bytes) -> bytes:
    cached = _derived_keys.get((passphrase, salt))
    if cached is None:
        cached = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, PBKDF2_ITERATIONS, KEY_BYTES)
        _derived_keys[(passphrase, salt)] = cached
    return cached


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise StateError(f"{what} is not standard (padded) base64") from None


def _seal(plaintext: str, key: bytes, nonce: bytes) -> str:
    """The symmetric crypter's output for `plaintext`: v1:<base64 nonce>:<base64 ciphertext>."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"{PASSPHRASE_STATE_VERSION}:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def _open(ciphertext: str, key: bytes) -> str | None:
    """The plaintext of a crypter output, or None when the key does not open it (wrong passphrase)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    parts = ciphertext.split(":")
    if len(parts) != 3:
        raise StateError("a Pulumi ciphertext is v1:<base64 nonce>:<base64 ciphertext>; this one has "
                         f"{len(parts)} ':'-separated parts")
    if parts[0] != PASSPHRASE_STATE_VERSION:
        raise StateError(f"unknown Pulumi ciphertext version {parts[0]!r} (only {PASSPHRASE_STATE_VERSION!r} exists)")
    nonce, sealed = _b64decode(parts[1], "the ciphertext's nonce"), _b64decode(parts[2], "the ciphertext")
    if len(nonce) != NONCE_BYTES:
        raise StateError(f"the ciphertext's nonce has {len(nonce)} bytes; AES-256-GCM takes {NONCE_BYTES}")
    try:
        return AESGCM(key).decrypt(nonce, sealed, None).decode()
    except (InvalidTag, UnicodeDecodeError):
        return None


def _salt_of(state: Mapping[str, Any] | str) -> tuple[bytes, str]:
    """The salt and the sealed check string of a passphrase provider state ({"salt": ...} or its salt string)."""
    salt_state = state.get("salt") if isinstance(state, Mapping) else state
    if not isinstance(salt_state, str):
        raise StateError('the passphrase secrets provider state holds no "salt" string')
    version, _, rest = salt_state.partition(":")
    salt_b64, _, check = rest.partition(":")
    if version != PASSPHRASE_STATE_VERSION or not check:
        raise StateError("the passphrase secrets provider's salt is not v1:<base64 salt>:<encrypted check>")
    return _b64decode(salt_b64, "the passphrase secrets provider's salt"), check


def _opened_key(state: Mapping[str, Any] | str, passphrase: str) -> bytes:
    """The key of a passphrase provider state, checked as the CLI checks it (the sealed check says "pulumi")."""
    salt, check = _salt_of(state)
    key = _derive_key(passphrase, salt)
    if _open(check, key) != PASSPHRASE_CHECK:
        raise StateError("incorrect passphrase: it does not open the passphrase secrets provider of this state. "
                         + troubleshooting.entry("passphrase-incorrect").advice())
    return key


def shell_passphrase() -> str | None:
    """The passphrase this shell gives Pulumi: PULUMI_CONFIG_PASSPHRASE, else the content of the file
    PULUMI_CONFIG_PASSPHRASE_FILE names (stripped); None when neither is set or readable."""
    value = os.environ.get("PULUMI_CONFIG_PASSPHRASE")
    if value:
        return value
    path = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None
    return None


def passphrase_opens(state: Mapping[str, Any], passphrase: str) -> bool:
    """Whether `passphrase` opens a passphrase secrets provider state (a deployment's secrets_providers.state):
    True only when its salt is well formed and its sealed check decrypts to "pulumi", as the Pulumi CLI requires."""
    try:
        _opened_key(state, passphrase)
    except StateError:
        return False
    return True


def secrets_provider_state(environment: str, project: str, *, passphrase: str = LOCAL_PASSPHRASE) -> dict[str, Any]:
    """The passphrase provider's state of a planned (rehearsal) deployment, sealed as Pulumi's passphrase manager
    seals it, for `passphrase` (the sandbox's LOCAL_PASSPHRASE unless told otherwise).

    Deterministic, so seeding twice writes the same state and plans stay byte-identical: the salt comes from a
    digest of the environment, the check's nonce from a digest of the environment and project (a salt is not a
    secret; it only makes the key derivation specific). One salt serves all four stacks of an environment: Pulumi
    only needs each state to open with the stack's passphrase, which is one per environment here
    (PULUMI_CONFIG_PASSPHRASE of the shell), and a shared salt means one 1,000,000-iteration key derivation per
    environment and process instead of one per stack. The nonces differ per stack, so no two states are alike."""
    salt = _digest("pulumi-passphrase-salt", environment)[:SALT_BYTES]
    nonce = _digest("pulumi-passphrase-check-nonce", environment, project)[:NONCE_BYTES]
    sealed = _seal(PASSPHRASE_CHECK, _derive_key(passphrase, salt), nonce)
    return {"salt": f"{PASSPHRASE_STATE_VERSION}:{base64.b64encode(salt).decode()}:{sealed}"}


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json.Marshal writes a serialized property value: compact, object keys sorted, <, >, &,
    U+2028 and U+2029 escaped, whole numbers without a fraction (property numbers are float64 in Pulumi)."""

    def normalized(v: Any) -> Any:
        if isinstance(v, float):
            if not math.isfinite(v):
                raise StateError(f"a secret value holds {v}, which JSON (and Pulumi) cannot store")
            return int(v) if v.is_integer() and abs(v) < 1e21 else v
        if isinstance(v, Mapping):
            return {str(k): normalized(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [normalized(x) for x in v]
        return v

    text = json.dumps(normalized(value), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _is_sdk_secret(value: Any) -> bool:
    """A secret as the Python SDK hands it over: {SECRET_SIG_KEY: SECRET_SIG, "value": ...}."""
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG and "value" in value \
        and "ciphertext" not in value and "plaintext" not in value


def _serialized(value: Any, seal: Any) -> Any:
    """A property value as a checkpoint stores it: SDK secrets become {sig, "ciphertext": seal(JSON of value)}."""
    if _is_sdk_secret(value):
        inner = _serialized(value["value"], lambda plaintext: plaintext)  # no double encryption, as Pulumi
        return {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": seal(_go_json(inner))}
    if isinstance(value, Mapping):
        return {k: _serialized(v, seal) for k, v in value.items()}
    if isinstance(value, list):
        return [_serialized(v, seal) for v in value]
    return value


def _secret_sealer(key: bytes):
    # Nonces are deterministic (byte-identical plans) yet never repeat for different plaintexts under one key: each
    # is a keyed digest (HMAC under the derived key) of the plaintext, so it reveals nothing without the key.
    def seal(plaintext: str) -> str:
        nonce = hmac.new(key, b"tradai-nb/secret-nonce\0" + plaintext.encode(), hashlib.sha256).digest()[:NONCE_BYTES]
        return _seal(plaintext, key, nonce)

    return seal


def encrypt_secret(value: Any, state: Mapping[str, Any], passphrase: str) -> dict[str, Any]:
    """`value` as Pulumi stores a secret property value in a checkpoint under this passphrase secrets provider:
    {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": "v1:<nonce>:<ciphertext>"}, the ciphertext sealing the value's JSON.
    Deterministic: the same value, state and passphrase give the same ciphertext. Raises StateError when the
    passphrase does not open the state (so nothing is sealed that its stack's CLI could not read)."""
    seal = _secret_sealer(_opened_key(state, passphrase))
    return _serialized({SECRET_SIG_KEY: SECRET_SIG, "value": value}, seal)


def decrypt_secret(ciphertext: str | Mapping[str, Any], state: Mapping[str, Any], passphrase: str) -> Any:
    """The value of a secret sealed under this passphrase secrets provider: a checkpoint's secret property value
    ({SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}) or its ciphertext string. Secrets nested in it come back as
    plain values. Raises StateError for a wrong passphrase or a malformed ciphertext."""
    if isinstance(ciphertext, Mapping):
        if ciphertext.get(SECRET_SIG_KEY) != SECRET_SIG or not isinstance(ciphertext.get("ciphertext"), str):
            raise StateError('not a Pulumi secret value: expected {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}')
        ciphertext = ciphertext["ciphertext"]
    plaintext = _open(ciphertext, _opened_key(state, passphrase))
    if plaintext is None:
        raise StateError("the secret does not decrypt under this secrets provider: it was sealed under another one")
    return _revealed(json.loads(plaintext))


def _revealed(value: Any) -> Any:
    # Nested secrets were written with the no-op encrypter: their "ciphertext" is their JSON.
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG and isinstance(value.get("ciphertext"), str):
            return _revealed(json.loads(value["ciphertext"]))
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _provider_packages(types: Iterable[str]) -> list[str]:
    return sorted({t.split(":", 1)[0] for t in types if not t.startswith("pulumi:")})


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(f"pulumi_{package}")
    except importlib.metadata.PackageNotFoundError:
        return ""


def deployment_from_plan(stack_plan: StackPlan, settings: Settings, *, time: datetime | None = None) -> dict[str, Any]:
    """A DEPLOYMENT (what a checkpoint's `latest` holds) for one planned stack: the manifest, the passphrase
    secrets provider, the root stack resource with the stack outputs, one default provider per package, then every
    planned resource with its urn, id, inputs, outputs, parent, dependencies, provider and protect flag."""
    environment = settings.environment
    project = config.get_stack_project(stack_plan.name)
    moment = format_time(time or datetime.now(timezone.utc))
    cli_version = f"v{importlib.metadata.version('pulumi')}"
    root_urn = f"urn:pulumi:{environment}::{project}::{STACK_TYPE}::{project}-{environment}"
    provider_state = secrets_provider_state(environment, project)
    # Secret values (the Python SDK's {SECRET_SIG_KEY: SECRET_SIG, "value": ...}) are written as the CLI writes them,
    # sealed under the rehearsal passphrase so that a real CLI given LOCAL_PASSPHRASE decrypts them.
    seal = _secret_sealer(_opened_key(provider_state, LOCAL_PASSPHRASE))
    resources: list[dict[str, Any]] = [{
        "urn": root_urn, "custom": False, "type": STACK_TYPE, "outputs": _serialized(dict(stack_plan.exports), seal),
        "created": moment, "modified": moment,
    }]
    frame = stack_plan.resources
    providers: dict[str, str] = {}
    for package in _provider_packages(frame["type"]):
        version = _package_version(package)
        name = "default_" + version.replace(".", "_") if version else "default"
        provider_urn = f"urn:pulumi:{environment}::{project}::pulumi:providers:{package}::{name}"
        provider_id = str(uuid.uuid5(uuid.NAMESPACE_URL, provider_urn))
        inputs = {"region": settings.aws_region} if package == "aws" else {}
        if version:
            inputs["version"] = version
        resources.append({"urn": provider_urn, "custom": True, "id": provider_id, "type": f"pulumi:providers:{package}",
                          "inputs": inputs, "outputs": dict(inputs), "created": moment, "modified": moment})
        providers[package] = f"{provider_urn}::{provider_id}"
    known = {r["urn"] for r in resources} | set(frame["urn"])
    for row in frame.itertuples(index=False):
        resource: dict[str, Any] = {"urn": row.urn, "custom": bool(row.custom), "type": row.type}
        if row.custom:
            resource["id"] = row.id
        resource.update({
            "inputs": _serialized(row.inputs, seal), "outputs": _serialized(row.outputs, seal) if row.custom else {},
            "parent": row.parent or root_urn,
            # Stack references are not part of the plan's resources; a checkpoint may only name what it holds.
            "dependencies": [d for d in row.dependencies if d in known],
        })
        if row.custom and row.type.split(":", 1)[0] in providers:
            resource["provider"] = providers[row.type.split(":", 1)[0]]
        resource.update({"protect": bool(row.protect), "created": moment, "modified": moment})
        resources.append(resource)
    return {
        "manifest": {"time": moment, "magic": hashlib.sha256(cli_version.encode()).hexdigest(), "version": cli_version},
        "secrets_providers": {"type": "passphrase", "state": provider_state},
        "resources": resources,
        "pending_operations": [],
    }


def _without_times(deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("created", "modified")} for r in deployment.get("resources", [])]


_plan_cache: dict[str, Any] = {}


def _local_plan(settings: Settings):
    # One plan per settings and process: a test session or a kernel seeds several times with the same programs.
    from tradai_nb.engine.plan import plan

    key = settings.model_dump_json()
    if key not in _plan_cache:
        _plan_cache[key] = plan(settings)
    return _plan_cache[key]


def seed_state(session: boto3.Session, settings: Settings) -> Iterable[tuple[str, str, str]]:
    """Seeder of the sandbox: the rehearsal Pulumi state in its state bucket (one checkpoint per stack from the local
    plan, one history entry each, and one stale lock), idempotent. Yields (kind, name, action)."""
    store = state_store_for(settings, session)
    if store.layout_version() != LAYOUT_VERSION:
        store.write_meta()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for stack_plan in _local_plan(settings).stacks:
        ref = stack_ref(stack_plan.name, settings.environment)
        deployment = deployment_from_plan(stack_plan, settings, time=now)
        if store.existing_checkpoint_key(ref) is None:
            action = "created"
        elif _without_times(store.read_deployment(ref)["deployment"]) == _without_times(deployment):
            yield "pulumi checkpoint", ref.fully_qualified, "exists"
            continue
        else:
            action = "refreshed"
        store.write_checkpoint(ref, deployment)
        store.add_history(ref, kind="update", result="succeeded", version=len(store.history(ref)) + 1, start=now,
                          end=now, resource_changes={"create": len(deployment["resources"])},
                          message="rehearsal state seeded from the offline plan")
        yield "pulumi checkpoint", ref.fully_qualified, action
    ref = stack_ref(SEEDED_LOCK_STACK, settings.environment)
    existing = store.locks(ref)
    if existing:
        yield "pulumi lock", existing[0].key, "exists"
        return
    lock_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ref.fully_qualified}/rehearsal-lock"))
    key = store.write_lock(ref, lock_id, timestamp=now - SEEDED_LOCK_AGE, **SEEDED_LOCK_HOLDER)
    yield "pulumi lock", key, "created"
