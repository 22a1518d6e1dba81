"""Secret values: which names and variables hold them, and scrubbing them out of everything a run stores."""

from __future__ import annotations

import ast
import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from pulumi.runtime import rpc

from tradai_nb import config
from tradai_nb.errors import GuardError

REDACTED = "[redacted]"

# The rule for parameter names that hold secrets (the README quotes it). A name is split into words at every
# character that is not a letter or a digit (`_`, `-`, `.`, spaces), at camelCase boundaries (`apiKey` is
# api + key, `APIKey` is API + key) and around digits (`password2`), compared case-insensitively. The name is secret
# when one of its words is a
# SECRET_WORDS word or two adjacent words are a SECRET_PAIRS pair, unless its last word is a REFERENCE_WORDS word:
# such a name points at or counts a secret without holding it (`secret_arn`, `token_count`, `access_key_id`,
# `PULUMI_CONFIG_PASSPHRASE_FILE`). A bare `key` is not secret (runbooks take output names, S3 keys, key pair names
# as `key`), nor is a word that merely contains a secret word (`keyboard`, `monkey`, `tokenizer`).
SECRET_WORDS = frozenset(
    {"passphrase", "password", "passwd", "pwd", "secret", "token", "credential", "credentials", "apikey", "privatekey"}
)
# Pairs whose words are harmless alone; "secret key" or "session token" need no pair, their second word suffices.
SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("private", "key"),
        ("access", "key"),
        ("signing", "key"),
        ("encryption", "key"),
        ("master", "key"),
        ("auth", "key"),
    }
)
REFERENCE_WORDS = frozenset({"arn", "id", "name", "count", "file", "path", "length", "ttl"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

PASSPHRASE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE"
# AWS_ACCESS_KEY_ID is absent on purpose: it identifies a key (it shows in CloudTrail and error messages), and
# scrubbing it would only blank out the records that say who acted.
SECRET_ENVIRONMENT_VARIABLES = (
    PASSPHRASE_VARIABLE,
    "PULUMI_ACCESS_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)
# Holds the path of a file whose content is the passphrase.
PASSPHRASE_FILE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE_FILE"

# A shorter value is never scrubbed as a substring: "tradai" would turn tradai-backend-local into
# [redacted]-backend-local everywhere, vandalising the record and pointing at the passphrase it hides.
MIN_SCRUB_LENGTH = 8
# A short secret given without a name is still reported, never skipped in silence.
UNNAMED_SOURCE = "an unnamed secret"

# How Pulumi marks a secret in state, exports and the wire protocol, taken from the SDK (pulumi.runtime.rpc):
# {PULUMI_SIG_KEY: PULUMI_SECRET_SIG, "plaintext": "<JSON of the value>"} or {..., "value": value}.
PULUMI_SIG_KEY: str = rpc._special_sig_key
PULUMI_SECRET_SIG: str = rpc._special_secret_sig
_ENVELOPE_FIELDS = ("plaintext", "value")
_ENVELOPE_FIELD = re.compile(
    r"""(?P<q>["'])(?P<field>plaintext|value)(?P=q)\s*:\s*(?P<vq>["'])(?P<raw>(?:(?!(?P=vq))[^\\]|\\.)*)(?P=vq)""",
)


def _name_words(name: str) -> list[str]:
    """The lower-cased words of a parameter or variable name, as the secret-name rule splits them."""
    return [word.lower() for word in _WORD.findall(name)]


def is_secret_name(name: str) -> bool:
    """Whether a parameter of this name holds a secret (its value is never stored); the rule is at SECRET_WORDS."""
    words = _name_words(name)
    if not words or words[-1] in REFERENCE_WORDS:
        return False
    return any(word in SECRET_WORDS for word in words) or any(pair in SECRET_PAIRS for pair in pairwise(words))


def environment_secrets_by_variable(environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """The secret values present in the environment, by the variable they came from; the passphrase file's content
    is listed under PASSPHRASE_FILE_VARIABLE both as read and stripped."""
    environ = os.environ if environ is None else environ
    found: dict[str, tuple[str, ...]] = {
        name: (environ[name],) for name in SECRET_ENVIRONMENT_VARIABLES if environ.get(name)
    }
    passphrase_file = environ.get(PASSPHRASE_FILE_VARIABLE)
    if passphrase_file:
        try:
            content = Path(passphrase_file).read_text(encoding="utf-8")
        except OSError:
            # Nothing to scrub: the Pulumi actions report the unreadable file themselves.
            content = ""
        values = tuple(dict.fromkeys(value for value in (content, content.strip()) if value))
        if values:
            found[PASSPHRASE_FILE_VARIABLE] = values
    return found


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Secret values present in the process environment: passphrase (or its file's content), Pulumi token, AWS keys."""
    return {value for values in environment_secrets_by_variable(environ).values() for value in values}


def check_secret_strength(environment: str, redactor: Redactor) -> list[str]:
    """Warnings for the secrets too short to scrub (named, never shown); in staging and prod, a GuardError instead."""
    if not redactor.too_short:
        return []
    if environment in config.PROTECTED_ENVIRONMENTS:
        name = redactor.too_short[0]
        remedy = (
            f"set a passphrase of at least {MIN_SCRUB_LENGTH} characters (an existing stack takes a new one "
            "with `pulumi stack change-secrets-provider passphrase`)"
            if _is_passphrase(name)
            else f"give it a value of at least {MIN_SCRUB_LENGTH} characters"
        )
        raise GuardError(
            f"{_subject(name)} is shorter than {MIN_SCRUB_LENGTH} characters, too short to scrub safely "
            f"from stored notebooks, and {environment} refuses it: {remedy}",
            name=name,
        )
    return [
        f"{_subject(name)} is shorter than {MIN_SCRUB_LENGTH} characters: too short to scrub safely from stored "
        f"notebooks; use a longer {'passphrase' if _is_passphrase(name) else 'value'}"
        for name in redactor.too_short
    ]


def _is_passphrase(name: str) -> bool:
    return name in (PASSPHRASE_VARIABLE, PASSPHRASE_FILE_VARIABLE)


def _subject(name: str) -> str:
    return f"the passphrase in the file named by {name}" if name == PASSPHRASE_FILE_VARIABLE else name


def _forms(secret: str) -> set[str]:
    """Every spelling of the secret a stored notebook or record can hold."""
    escaped = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
        # quote() with its default safe="/" is how most code encodes a URL path.
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
    }
    # The stored notebook is itself JSON, so the final leak check on its text meets each form escaped once more.
    return escaped | {
        json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in escaped for ascii_only in (True, False)
    }


class Redactor:
    """Replaces every known secret value of MIN_SCRUB_LENGTH or more with REDACTED, in every form in _forms; remembers
    by name the secrets too short for that."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        self._too_short: dict[str, None] = {}
        for secret in secrets:
            self.add(secret)

    @classmethod
    def for_run(cls, parameters: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor knowing the environment's secrets and the values of secret-named parameters."""
        redactor = cls()
        for variable, values in environment_secrets_by_variable(environ).items():
            for value in values:
                redactor.add(value, source=variable)
        for name, value in parameters.items():
            if is_secret_name(name) and value is not None and not isinstance(value, bool):
                redactor.add(value if isinstance(value, str) else json.dumps(value, default=str), source=name)
        return redactor

    @property
    def too_short(self) -> tuple[str, ...]:
        """The names (variables, parameters) whose secret values are too short to scrub, in the order added."""
        return tuple(self._too_short)

    def add(self, secret: str, source: str = UNNAMED_SOURCE) -> None:
        """Scrub this secret from now on, or, if it is too short for that, remember its source in too_short."""
        if not secret:
            return
        if len(secret) < MIN_SCRUB_LENGTH:
            self._too_short[source] = None
            return
        self._learn(secret)

    def scrub(self, value: Any) -> Any:
        """The value with every secret replaced; dicts and lists are walked, other types returned as they are."""
        if isinstance(value, str):
            for form in self._forms:
                value = value.replace(form, REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value

    def parameters(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as they may be stored: secret-named ones redacted whole, secrets scrubbed from the others."""
        return {name: REDACTED if is_secret_name(name) else self.scrub(value) for name, value in parameters.items()}

    def scrub_notebook(self, notebook: dict[str, Any]) -> dict[str, Any]:
        """A notebook (as JSON data) safe to store: Pulumi secrets it displayed and all known secrets removed."""
        # Every output is read before anything is scrubbed: a secret displayed late may also sit in an earlier cell.
        for cell in notebook.get("cells", []):
            if "outputs" in cell:
                cell["outputs"] = [self._redact_pulumi_secrets(output) for output in cell["outputs"]]
        papermill = notebook.get("metadata", {}).get("papermill", {})
        if isinstance(papermill.get("parameters"), dict):
            papermill["parameters"] = self.parameters(papermill["parameters"])
        return self.scrub(notebook)

    def leaks(self, text: str) -> bool:
        """Whether any known secret, in any form scrub replaces, still appears in the text."""
        return any(form in text for form in self._forms)

    def _learn(self, secret: str) -> None:
        if len(secret) < MIN_SCRUB_LENGTH:
            return
        # Longest first, so a secret containing another (or a form containing another form) is replaced whole.
        self._forms = sorted(set(self._forms) | _forms(secret), key=len, reverse=True)

    def _redact_pulumi_secrets(self, value: Any) -> Any:
        """The output with each displayed Pulumi secret replaced in place (safe whatever its length) and learned."""
        if isinstance(value, dict):
            if value.get(PULUMI_SIG_KEY) == PULUMI_SECRET_SIG:
                for field in _ENVELOPE_FIELDS:
                    if field in value:
                        self._learn_envelope_value(value[field], encoded=field == "plaintext")
                return {key: REDACTED if key in _ENVELOPE_FIELDS else item for key, item in value.items()}
            return {key: self._redact_pulumi_secrets(item) for key, item in value.items()}
        if isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                # Multiline text is stored as a list of lines, and an indented envelope spans several of them.
                joined = "".join(value)
                redacted = self._redact_pulumi_secrets(joined)
                return value if redacted == joined else redacted.splitlines(keepends=True)
            return [self._redact_pulumi_secrets(item) for item in value]
        if isinstance(value, str) and PULUMI_SECRET_SIG in value:
            return _ENVELOPE_FIELD.sub(self._redact_envelope_field, value)
        return value

    def _redact_envelope_field(self, match: re.Match[str]) -> str:
        self._learn(match["raw"])
        self._learn_envelope_value(_unquote(match["raw"], match["vq"]), encoded=match["field"] == "plaintext")
        start, end = (position - match.start() for position in match.span("raw"))
        return match[0][:start] + REDACTED + match[0][end:]

    def _learn_envelope_value(self, value: Any, *, encoded: bool) -> None:
        if not isinstance(value, str):
            self._learn(json.dumps(value))
            return
        self._learn(value)
        if encoded:
            try:
                inner = json.loads(value)
            except ValueError:
                return
            self._learn(inner if isinstance(inner, str) else json.dumps(inner))


def _unquote(raw: str, quote_char: str) -> str:
    try:
        return json.loads(f'"{raw}"') if quote_char == '"' else ast.literal_eval(f"'{raw}'")
    except (ValueError, SyntaxError):
        return raw


# Values that are credentials by their look or by the name written before them, in text a user pastes (an error
# message, a log): `secret_access_key = ...`, `X-Amz-Security-Token=...`, a request signature, a private key, a
# URL's password, a Pulumi access token. A value must be long enough to be a credential: "ExpiredToken: The ..."
# keeps its words.
_NAMED_CREDENTIAL = re.compile(
    r"(?P<name>\b[\w.-]*(?:secret[_-]?access[_-]?key|secret[_-]?key|session[_-]?token|security[_-]?token|"
    r"access[_-]?token|passphrase|password|signature)[\"']?\s*[=:]\s*[\"']?)(?P<value>[A-Za-z0-9/+=._~%-]{12,})",
    re.IGNORECASE,
)
_CREDENTIAL_VALUES = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
    re.compile(r"\bpul-[0-9a-f]{40}\b"),
)
_URL_PASSWORD = re.compile(r"(?P<head>://[^/\s:@]+:)[^/\s@]+(?P<tail>@)")


def scrub_credentials(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Text a user pasted, with the environment's secrets and anything that looks like a credential replaced by
    REDACTED, so it can be shown back."""
    text = Redactor(environment_secrets(environ)).scrub(text)
    text = _NAMED_CREDENTIAL.sub(lambda m: m["name"] + REDACTED, text)
    for pattern in _CREDENTIAL_VALUES:
        text = pattern.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m["head"] + REDACTED + m["tail"], text)
