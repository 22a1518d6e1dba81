"""Secret values: which names and variables hold them, and scrubbing them out of everything a run stores."""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REDACTED = "[redacted]"

# The one rule for parameter names that hold secrets: the name ends in one of these words.
SECRET_NAME = re.compile(r"(passphrase|password|secret|token|key)$", re.IGNORECASE)
SECRET_ENVIRONMENT_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
# Holds the path of a file whose content is the passphrase.
PASSPHRASE_FILE_VARIABLE = "PULUMI_CONFIG_PASSPHRASE_FILE"

# How Pulumi marks a secret in state, exports and the wire protocol (pulumi.runtime.rpc's _special_sig_key and
# _special_secret_sig): {"4dabf...": "1b470...", "plaintext": "<JSON of the value>"} or {..., "value": value}.
PULUMI_SIG_KEY = "4dabf18193072939515e22adb298388d"
PULUMI_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_ENVELOPE_FIELD = re.compile(
    r"""(?P<q>["'])(?P<field>plaintext|value)(?P=q)\s*:\s*(?P<vq>["'])(?P<raw>(?:(?!(?P=vq))[^\\]|\\.)*)(?P=vq)""",
)


def is_secret_name(name: str) -> bool:
    """Whether a parameter of this name holds a secret (its value is never stored)."""
    return bool(SECRET_NAME.search(name))


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Secret values present in the process environment: passphrase (or its file's content) and AWS keys."""
    environ = os.environ if environ is None else environ
    values = {environ.get(name, "") for name in SECRET_ENVIRONMENT_VARIABLES}
    passphrase_file = environ.get(PASSPHRASE_FILE_VARIABLE)
    if passphrase_file:
        try:
            content = Path(passphrase_file).read_text(encoding="utf-8")
        except OSError:
            content = ""
        values |= {content, content.strip()}
    return {v for v in values if v}


class Redactor:
    """Replaces every known secret value with REDACTED, in plain, JSON-escaped and repr-escaped forms."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        for secret in secrets:
            self.add(secret)

    @classmethod
    def for_run(cls, parameters: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor knowing the environment's secrets and the values of secret-named parameters."""
        redactor = cls(environment_secrets(environ))
        for name, value in parameters.items():
            if is_secret_name(name) and value is not None and not isinstance(value, bool):
                redactor.add(value if isinstance(value, str) else json.dumps(value, default=str))
        return redactor

    def add(self, secret: str) -> None:
        if secret:
            self._forms |= {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}

    def scrub(self, value: Any) -> Any:
        """The value with every secret replaced; dicts and lists are walked, other types returned as they are."""
        if isinstance(value, str):
            # Longest first, so a secret containing another is replaced whole.
            for form in sorted(self._forms, key=len, reverse=True):
                value = value.replace(form, REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value

    def parameters(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters as they may be stored: secret-named ones redacted, secrets scrubbed from the others."""
        return {name: REDACTED if is_secret_name(name) else self.scrub(value) for name, value in parameters.items()}

    def scrub_notebook(self, notebook: dict[str, Any]) -> dict[str, Any]:
        """A notebook (as JSON data) safe to store: Pulumi secrets it displayed and all known secrets removed."""
        for cell in notebook.get("cells", []):
            for output in cell.get("outputs", []):
                self._learn_pulumi_secrets(output)
        papermill = notebook.get("metadata", {}).get("papermill", {})
        if isinstance(papermill.get("parameters"), dict):
            papermill["parameters"] = self.parameters(papermill["parameters"])
        return self.scrub(notebook)

    def leaks(self, text: str) -> bool:
        """Whether any known secret (or its JSON-escaped form) still appears in the text."""
        return any(form in text or json.dumps(form)[1:-1] in text for form in self._forms)

    def _learn_pulumi_secrets(self, value: Any) -> None:
        if isinstance(value, dict):
            if value.get(PULUMI_SIG_KEY) == PULUMI_SECRET_SIG:
                for field in ("plaintext", "value"):
                    if field in value:
                        self._add_envelope_value(value[field], encoded=field == "plaintext")
            for item in value.values():
                self._learn_pulumi_secrets(item)
        elif isinstance(value, list):
            if all(isinstance(item, str) for item in value):
                self._learn_pulumi_secrets("".join(value))
            else:
                for item in value:
                    self._learn_pulumi_secrets(item)
        elif isinstance(value, str) and PULUMI_SECRET_SIG in value:
            for match in _ENVELOPE_FIELD.finditer(value):
                self.add(match["raw"])
                decoded = _unquote(match["raw"], match["vq"])
                self._add_envelope_value(decoded, encoded=match["field"] == "plaintext")

    def _add_envelope_value(self, value: Any, *, encoded: bool) -> None:
        if not isinstance(value, str):
            self.add(json.dumps(value))
            return
        self.add(value)
        if encoded:
            try:
                inner = json.loads(value)
            except ValueError:
                return
            self.add(inner if isinstance(inner, str) else json.dumps(inner))


def _unquote(raw: str, quote: str) -> str:
    try:
        return json.loads(f'"{raw}"') if quote == '"' else ast.literal_eval(f"'{raw}'")
    except (ValueError, SyntaxError):
        return raw
