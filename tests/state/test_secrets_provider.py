"""The passphrase secrets provider of the rehearsal state, in Pulumi's own format (pkg/secrets/passphrase/manager.go,
sdk/go/common/resource/config/crypt.go, pkg/resource/stack/deployment.go in pulumi/pulumi), checked against an
implementation of that format written here with the `cryptography` package, independent of the module's helpers."""

from __future__ import annotations

import base64
import functools
import json
import re
from datetime import datetime, timezone

import pandas as pd
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from tradai_nb import config
from tradai_nb.engine.plan import RESOURCE_COLUMNS, StackPlan, plan
from tradai_nb.errors import StateError
from tradai_nb.sandbox import rehearsal_state
from tradai_nb.settings import load_settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend, sealing
from tradai_nb.state.sealing import LOCAL_PASSPHRASE, SECRET_SIG, SECRET_SIG_KEY

WHEN = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
STD_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
SALT_STATE = re.compile(rf"^v1:({STD_B64}):(v1:{STD_B64}:{STD_B64})$")


# --- Pulumi's format, written out independently -------------------------------------------------------------------

@functools.cache
def pulumi_key(passphrase: str, salt: bytes) -> bytes:
    """NewSymmetricCrypterFromPassphrase: PBKDF2-HMAC-SHA256, 1,000,000 iterations, 32-byte key."""
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=1_000_000).derive(passphrase.encode())


def pulumi_decrypt_value(ciphertext: str, key: bytes) -> bytes:
    """symmetricCrypter.DecryptValue: v1:<std base64 12-byte nonce>:<std base64 AES-256-GCM ciphertext+tag>."""
    version, nonce, sealed = ciphertext.split(":")
    assert version == "v1"
    nonce_bytes = base64.b64decode(nonce, validate=True)
    assert len(nonce_bytes) == 12
    return AESGCM(key).decrypt(nonce_bytes, base64.b64decode(sealed, validate=True), None)


def pulumi_open_state(state: dict, passphrase: str) -> tuple[bytes, bytes]:
    """symmetricCrypterFromPhraseAndState: split v1:<salt>:<rest>, derive the key, decrypt the rest. (key, check)"""
    version, salt, rest = state["salt"].split(":", 2)
    assert version == "v1"
    key = pulumi_key(passphrase, base64.b64decode(salt, validate=True))
    return key, pulumi_decrypt_value(rest, key)


def pulumi_decrypt_secret(value: dict, state: dict, passphrase: str):
    """DeserializePropertyValue of a secret: {sig key: secret sig, "ciphertext": ...} holds the value's JSON."""
    assert set(value) == {SECRET_SIG_KEY, "ciphertext"} and value[SECRET_SIG_KEY] == SECRET_SIG
    key, check = pulumi_open_state(state, passphrase)
    assert check == b"pulumi"
    return pulumi_decrypt_value(value["ciphertext"], key)


# --- fixtures --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_settings():
    return load_settings("local")


@pytest.fixture(scope="module")
def local_plan(local_settings):
    return plan(local_settings)


@pytest.fixture(scope="module")
def planned(local_plan, local_settings):
    return {s.name: rehearsal_state.deployment_from_plan(s, local_settings, time=WHEN) for s in local_plan.stacks}


def secret(value):
    """A secret as the Python SDK hands it over (what a plan row would hold for a secret input or output)."""
    return {SECRET_SIG_KEY: SECRET_SIG, "value": value}


def stack_plan_with_secrets() -> StackPlan:
    urn = "urn:pulumi:local::tradai-foundation::aws:rds/instance:Instance::mlflow-db"
    inputs = {"username": "mlflow", "password": secret("s3cr3t<&>pw"), "port": 5432}
    outputs = {**inputs, "id": "db-1", "masterUserSecrets": [{"secretArn": secret("arn:aws:secretsmanager:x")}]}
    row = {"stack": "foundation", "type": "aws:rds/instance:Instance", "name": "mlflow-db", "urn": urn, "parent": "",
           "custom": True, "protect": False, "inputs": inputs, "id": "db-1", "outputs": outputs, "dependencies": []}
    return StackPlan("foundation", pd.DataFrame([row], columns=RESOURCE_COLUMNS),
                     {"rds_password": secret("s3cr3t<&>pw"), "rds_port": 5432})


# --- the salt state -------------------------------------------------------------------------------------------

def test_planned_salt_state__decrypts_to_pulumi_with_the_local_passphrase(planned):
    assert set(planned) == set(stacks.names())
    for name, deployment in planned.items():
        provider = deployment["secrets_providers"]
        assert provider["type"] == "passphrase" and set(provider["state"]) == {"salt"}, name

        _, check = pulumi_open_state(provider["state"], LOCAL_PASSPHRASE)

        assert check == b"pulumi", name


def test_planned_salt_state__is_laid_out_as_pulumis_passphrase_manager_writes_it(planned):
    for name, deployment in planned.items():
        match = SALT_STATE.match(deployment["secrets_providers"]["state"]["salt"])
        assert match, name
        salt, sealed = match.groups()
        _, nonce, ciphertext = sealed.split(":")
        assert len(base64.b64decode(salt)) == 8, name
        assert len(base64.b64decode(nonce)) == 12, name
        assert len(base64.b64decode(ciphertext)) == len("pulumi") + 16, name  # AES-GCM appends a 16-byte tag


def test_seeded_salt_state__decrypts_to_pulumi_with_the_local_passphrase(sandbox):
    store = backend.state_store_for(sandbox.settings, sandbox.session)

    for name in stacks.names():
        deployment = store.read_deployment(backend.stack_ref(name, "local"))["deployment"]

        assert pulumi_open_state(deployment["secrets_providers"]["state"], LOCAL_PASSPHRASE)[1] == b"pulumi", name
        assert sealing.passphrase_opens(deployment["secrets_providers"]["state"], LOCAL_PASSPHRASE), name


def test_salt_state__a_wrong_passphrase_does_not_open_it(planned):
    state = planned["compute"]["secrets_providers"]["state"]

    with pytest.raises(InvalidTag):
        pulumi_open_state(state, "not-the-rehearsal-passphrase")


def test_salt_state__the_stacks_of_an_environment_share_one_salt_with_their_own_nonce(planned):
    salts = {d["secrets_providers"]["state"]["salt"].split(":")[1] for d in planned.values()}
    nonces = {d["secrets_providers"]["state"]["salt"].split(":")[3] for d in planned.values()}

    assert len(salts) == 1
    assert len(nonces) == len(planned)


def test_salt_state__differs_between_environments():
    local = sealing.secrets_provider_state("local", "tradai-edge")
    dev = sealing.secrets_provider_state("dev", "tradai-edge")

    assert local["salt"].split(":")[1] != dev["salt"].split(":")[1]


def test_salt_state__sealed_for_another_passphrase_opens_with_that_one_only():
    state = sealing.secrets_provider_state("local", "tradai-edge", passphrase="another-rehearsal-phrase")

    assert pulumi_open_state(state, "another-rehearsal-phrase")[1] == b"pulumi"
    assert not sealing.passphrase_opens(state, LOCAL_PASSPHRASE)


def test_local_passphrase__is_at_least_eight_characters():
    assert isinstance(LOCAL_PASSPHRASE, str) and len(LOCAL_PASSPHRASE) >= 8


# --- passphrase_opens ----------------------------------------------------------------------------------------

# States the Pulumi CLI itself wrote, with their passphrases, from pulumi/pulumi's own tests:
# pkg/secrets/passphrase/manager_test.go (the first) and pkg/backend/diy/backend_test.go (the other two).
PULUMI_VECTORS = [
    ("password", "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ=="),
    ("abc123", "v1:4iF78gb0nF0=:v1:Co6IbTWYs/UdrjgY:FSrAWOFZnj9ealCUDdJL7LrUKXX9BA=="),
    ("123abc", "v1:C7H2a7/Ietk=:v1:yfAd1zOi6iY9DRIB:dumdsr+H89VpHIQWdB01XEFqYaYjAg=="),
]


@pytest.mark.parametrize(("passphrase", "salt"), PULUMI_VECTORS, ids=[v[0] for v in PULUMI_VECTORS])
def test_passphrase_opens__states_the_pulumi_cli_wrote_with_their_passphrase_only(passphrase, salt):
    assert sealing.passphrase_opens({"salt": salt}, passphrase)
    assert not sealing.passphrase_opens({"salt": salt}, passphrase + "x")


def test_independent_implementation__opens_what_the_pulumi_cli_wrote():
    # tests/roundtrip/roundtrip_test.go in pulumi/pulumi: a stack's salt and a secure config value it sealed.
    state = {"salt": "v1:ThS5UPxP9qc=:v1:UZYAXF+ylaJ0rGhv:9OTvBnOEDFgxs7btjzSu+LZ470vLpg=="}

    key, check = pulumi_open_state(state, "TestConfigRoundtripComments")

    assert check == b"pulumi"
    assert pulumi_decrypt_value("v1:T1ftqhY0hqr+EJK6:+jvd5PMecFx80tcavzuZY4tLatgIfoe/xR72GA==", key) == b"secret-value"


def test_passphrase_opens__true_for_the_passphrase_the_state_was_sealed_with(planned):
    assert sealing.passphrase_opens(planned["edge"]["secrets_providers"]["state"], LOCAL_PASSPHRASE)


def test_passphrase_opens__false_for_another_passphrase(planned):
    state = planned["edge"]["secrets_providers"]["state"]

    assert not sealing.passphrase_opens(state, "not-the-rehearsal-passphrase")
    assert not sealing.passphrase_opens(state, "")


def test_passphrase_opens__true_for_a_state_sealed_independently_as_pulumi_does():
    salt, nonce = b"\x01" * 8, b"\x02" * 12
    sealed = AESGCM(pulumi_key("independent-phrase", salt)).encrypt(nonce, b"pulumi", None)
    state = {"salt": f"v1:{base64.b64encode(salt).decode()}:v1:{base64.b64encode(nonce).decode()}:"
                     f"{base64.b64encode(sealed).decode()}"}

    assert sealing.passphrase_opens(state, "independent-phrase")
    assert not sealing.passphrase_opens(state, LOCAL_PASSPHRASE)


def test_passphrase_opens__false_when_the_check_is_not_pulumi():
    salt, nonce = b"\x01" * 8, b"\x02" * 12
    sealed = AESGCM(pulumi_key("independent-phrase", salt)).encrypt(nonce, b"tradai", None)
    state = {"salt": f"v1:{base64.b64encode(salt).decode()}:v1:{base64.b64encode(nonce).decode()}:"
                     f"{base64.b64encode(sealed).decode()}"}

    assert not sealing.passphrase_opens(state, "independent-phrase")


@pytest.mark.parametrize("state", [
    {},
    {"salt": 42},
    {"salt": ""},
    {"salt": "v2:AQEBAQEBAQE=:v1:AgICAgICAgICAgIC:AAAA"},
    {"salt": "v1:not base64!:v1:AgICAgICAgICAgIC:AAAA"},
    {"salt": "v1:AQEBAQEBAQE="},
    {"salt": "v1:AQEBAQEBAQE=:v1:AgICAgICAgICAgIC"},
    {"salt": "v1:AQEBAQEBAQE=:v1:AgICAg==:AAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
], ids=["no-salt", "not-a-string", "empty", "unknown-version", "bad-base64", "no-check", "check-without-ciphertext",
        "short-nonce"])
def test_passphrase_opens__false_for_a_malformed_state(state):
    assert not sealing.passphrase_opens(state, LOCAL_PASSPHRASE)


def test_passphrase_opens__false_for_a_tampered_check(planned):
    salt = planned["edge"]["secrets_providers"]["state"]["salt"]
    head, ciphertext = salt.rsplit(":", 1)
    raw = bytearray(base64.b64decode(ciphertext))
    raw[0] ^= 1

    assert not sealing.passphrase_opens({"salt": f"{head}:{base64.b64encode(bytes(raw)).decode()}"},
                                             LOCAL_PASSPHRASE)


# --- secret values ---------------------------------------------------------------------------------------------

def test_secret_value__round_trips(planned):
    state = planned["foundation"]["secrets_providers"]["state"]
    value = {"user": "mlflow", "port": 5432, "hosts": ["a", "b"], "tls": True, "note": None}

    sealed = sealing.encrypt_secret(value, state, LOCAL_PASSPHRASE)

    assert sealing.decrypt_secret(sealed, state, LOCAL_PASSPHRASE) == value
    assert sealing.decrypt_secret(sealed["ciphertext"], state, LOCAL_PASSPHRASE) == value
    assert sealing.is_secret(sealed)


def test_secret_value__decrypts_independently_to_the_json_go_would_write(planned):
    state = planned["foundation"]["secrets_providers"]["state"]

    sealed = sealing.encrypt_secret({"user": "mlflow", "port": 5432.0, "pw": "a<b&c>"}, state, LOCAL_PASSPHRASE)

    assert set(sealed) == {SECRET_SIG_KEY, "ciphertext"}
    plaintext = pulumi_decrypt_secret(sealed, state, LOCAL_PASSPHRASE)
    assert plaintext == b'{"port":5432,"pw":"a\\u003cb\\u0026c\\u003e","user":"mlflow"}'
    assert json.loads(plaintext) == {"user": "mlflow", "port": 5432, "pw": "a<b&c>"}


def test_secret_value__a_string_is_sealed_as_its_json():
    state = sealing.secrets_provider_state("local", "tradai-foundation")

    sealed = sealing.encrypt_secret("s3cr3t", state, LOCAL_PASSPHRASE)

    assert pulumi_decrypt_secret(sealed, state, LOCAL_PASSPHRASE) == b'"s3cr3t"'


def test_secret_value__nested_secrets_are_not_encrypted_twice():
    state = sealing.secrets_provider_state("local", "tradai-foundation")

    sealed = sealing.encrypt_secret({"inner": secret("deep")}, state, LOCAL_PASSPHRASE)

    inner = json.loads(pulumi_decrypt_secret(sealed, state, LOCAL_PASSPHRASE))["inner"]
    assert inner == {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": '"deep"'}
    assert sealing.decrypt_secret(sealed, state, LOCAL_PASSPHRASE) == {"inner": "deep"}


def test_secret_value__sealed_independently_as_pulumi_does_decrypts():
    state = sealing.secrets_provider_state("local", "tradai-compute")
    key, _ = pulumi_open_state(state, LOCAL_PASSPHRASE)
    nonce = b"\x07" * 12
    ciphertext = AESGCM(key).encrypt(nonce, b'["x",1]', None)
    value = {SECRET_SIG_KEY: SECRET_SIG,
             "ciphertext": f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(ciphertext).decode()}"}

    assert sealing.decrypt_secret(value, state, LOCAL_PASSPHRASE) == ["x", 1]


def test_secret_value__a_wrong_passphrase_neither_seals_nor_opens(planned):
    state = planned["foundation"]["secrets_providers"]["state"]
    sealed = sealing.encrypt_secret("s3cr3t", state, LOCAL_PASSPHRASE)

    with pytest.raises(StateError, match="incorrect passphrase"):
        sealing.encrypt_secret("s3cr3t", state, "not-the-rehearsal-passphrase")
    with pytest.raises(StateError, match="incorrect passphrase"):
        sealing.decrypt_secret(sealed, state, "not-the-rehearsal-passphrase")


def test_secret_value__from_another_secrets_provider_is_refused(planned):
    sealed = sealing.encrypt_secret("s3cr3t", planned["foundation"]["secrets_providers"]["state"],
                                         LOCAL_PASSPHRASE)
    other = sealing.secrets_provider_state("dev", "tradai-foundation")

    with pytest.raises(StateError, match="sealed under another"):
        sealing.decrypt_secret(sealed, other, LOCAL_PASSPHRASE)


def test_deployment_from_plan__writes_secret_values_as_the_cli_does(local_settings):
    deployment = rehearsal_state.deployment_from_plan(stack_plan_with_secrets(), local_settings, time=WHEN)
    state = deployment["secrets_providers"]["state"]
    root, _provider, db = deployment["resources"]

    for stored in (db["inputs"]["password"], db["outputs"]["password"], root["outputs"]["rds_password"]):
        assert pulumi_decrypt_secret(stored, state, LOCAL_PASSPHRASE) == b'"s3cr3t\\u003c\\u0026\\u003epw"'
        assert sealing.decrypt_secret(stored, state, LOCAL_PASSPHRASE) == "s3cr3t<&>pw"
    nested = db["outputs"]["masterUserSecrets"][0]["secretArn"]
    assert json.loads(pulumi_decrypt_secret(nested, state, LOCAL_PASSPHRASE)) == "arn:aws:secretsmanager:x"
    assert (db["inputs"]["username"], db["inputs"]["port"], root["outputs"]["rds_port"]) == ("mlflow", 5432, 5432)


# --- determinism and cost ------------------------------------------------------------------------------------

def test_determinism__the_same_input_gives_the_same_state_and_ciphertexts(local_plan, local_settings):
    assert sealing.secrets_provider_state("local", "tradai-edge") == \
        sealing.secrets_provider_state("local", "tradai-edge")
    for stack_plan in (local_plan.stack("foundation"), stack_plan_with_secrets()):
        first = rehearsal_state.deployment_from_plan(stack_plan, local_settings, time=WHEN)
        again = rehearsal_state.deployment_from_plan(stack_plan, local_settings, time=WHEN)
        assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    state = sealing.secrets_provider_state("local", "tradai-edge")
    assert sealing.encrypt_secret("a", state, LOCAL_PASSPHRASE) == \
        sealing.encrypt_secret("a", state, LOCAL_PASSPHRASE)


def test_determinism__different_secrets_never_share_a_nonce():
    state = sealing.secrets_provider_state("local", "tradai-edge")

    nonces = {sealing.encrypt_secret(v, state, LOCAL_PASSPHRASE)["ciphertext"].split(":")[1]
              for v in ("a", "b", ["a"], {"a": 1}, 1)}

    assert len(nonces) == 5


def test_key_derivation__once_per_passphrase_and_salt_in_a_process(monkeypatch):
    calls = []
    real = sealing.hashlib.pbkdf2_hmac

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sealing, "_derived_keys", {})
    monkeypatch.setattr(sealing.hashlib, "pbkdf2_hmac", counted)

    for name in stacks.names():
        state = sealing.secrets_provider_state("local", config.get_stack_project(name))
        assert sealing.passphrase_opens(state, LOCAL_PASSPHRASE)
        sealing.encrypt_secret("s", state, LOCAL_PASSPHRASE)

    assert len(calls) == 1
    assert calls[0][0] == "sha256" and calls[0][3] == 1_000_000 and calls[0][4] == 32
