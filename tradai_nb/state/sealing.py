"""Pulumi's passphrase secrets provider: its state, and secret property values sealed and opened as the CLI does."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi.runtime import rpc

from tradai_nb import troubleshooting
from tradai_nb.errors import StateError

if TYPE_CHECKING:
    pass
# Property values Pulumi stores encrypted look like {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}; the signature is
# the SDK's own (pulumi.runtime.rpc), never a copy of it.
SECRET_SIG_KEY: str = rpc._special_sig_key
SECRET_SIG: str = rpc._special_secret_sig


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
        raise StateError(
            "a Pulumi ciphertext is v1:<base64 nonce>:<base64 ciphertext>; this one has "
            f"{len(parts)} ':'-separated parts"
        )
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
        raise StateError(
            "incorrect passphrase: it does not open the passphrase secrets provider of this state. "
            + troubleshooting.entry("passphrase-incorrect").advice()
        )
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
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _is_sdk_secret(value: Any) -> bool:
    """A secret as the Python SDK hands it over: {SECRET_SIG_KEY: SECRET_SIG, "value": ...}."""
    return (
        isinstance(value, Mapping)
        and value.get(SECRET_SIG_KEY) == SECRET_SIG
        and "value" in value
        and "ciphertext" not in value
        and "plaintext" not in value
    )


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
        inner = ciphertext.get("ciphertext")
        if ciphertext.get(SECRET_SIG_KEY) != SECRET_SIG or not isinstance(inner, str):
            raise StateError('not a Pulumi secret value: expected {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}')
        ciphertext = inner
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
