"""Redaction: which names and variables hold secrets, and scrubbing them (and displayed Pulumi secrets) out."""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import rpc

from tradai_nb.redaction import PULUMI_SECRET_SIG, PULUMI_SIG_KEY, REDACTED, Redactor, environment_secrets, is_secret_name


@pytest.mark.parametrize(
    ("name", "secret"),
    [("api_token", True), ("db_password", True), ("pulumi_passphrase", True), ("client_secret", True),
     ("api_key", True), ("PULUMI_CONFIG_PASSPHRASE", True), ("action", False), ("environment", False),
     ("token_count", False), ("secret_arn", False), ("state_file", False)],
    ids=lambda value: str(value),
)
def test_is_secret_name__by_the_name_suffix(name, secret):
    assert is_secret_name(name) is secret


def test_pulumi_markers__are_the_sdk_s_own():
    assert (PULUMI_SIG_KEY, PULUMI_SECRET_SIG) == (rpc._special_sig_key, rpc._special_secret_sig)


def test_environment_secrets__passphrase_aws_keys_and_the_passphrase_file(tmp_path):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("from-file\n")
    environ = {"PULUMI_CONFIG_PASSPHRASE": "pp", "AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": "sk",
               "AWS_SESSION_TOKEN": "st", "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file), "HOME": "/root"}

    assert environment_secrets(environ) == {"pp", "AKIA1", "sk", "st", "from-file\n", "from-file"}


def test_scrub__replaces_plain_json_escaped_and_repr_escaped_forms():
    secret = 'a"b\\c'
    redactor = Redactor([secret])
    text = f"plain {secret} json {json.dumps(secret)} repr {secret!r}"

    scrubbed = redactor.scrub({"outputs": [text]})

    assert scrubbed == {"outputs": [f"plain {REDACTED} json \"{REDACTED}\" repr '{REDACTED}'"]}
    assert not redactor.leaks(json.dumps(scrubbed))


def test_parameters__secret_names_redacted_other_values_scrubbed():
    redactor = Redactor.for_run({"api_token": "t0k", "label": "x"}, environ={"PULUMI_CONFIG_PASSPHRASE": "pp"})

    assert redactor.parameters({"api_token": "t0k", "label": "has pp and t0k", "count": 3}) == {
        "api_token": REDACTED, "label": f"has {REDACTED} and {REDACTED}", "count": 3}


@pytest.mark.parametrize(
    "display",
    [
        lambda envelope: {"output_type": "stream", "name": "stdout", "text": [json.dumps({"pw": envelope}, indent=2)]},
        lambda envelope: {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                          "data": {"text/plain": [repr({"pw": envelope})]}},
        lambda envelope: {"output_type": "display_data", "metadata": {}, "data": {"application/json": {"pw": envelope}}},
    ],
    ids=["json-text", "python-repr", "json-data"],
)
def test_scrub_notebook__removes_values_displayed_as_pulumi_secrets(display, small_notebook):
    envelope = {PULUMI_SIG_KEY: PULUMI_SECRET_SIG, "plaintext": json.dumps("s3cr3t-db-pw")}
    notebook = small_notebook()
    notebook["cells"][0]["outputs"].append(display(envelope))
    notebook["cells"][0]["outputs"].append({"output_type": "stream", "name": "stdout", "text": "again: s3cr3t-db-pw\n"})

    scrubbed = Redactor().scrub_notebook(json.loads(json.dumps(notebook)))

    assert "s3cr3t-db-pw" not in json.dumps(scrubbed)
    assert scrubbed["cells"][0]["outputs"][-1]["text"] == f"again: {REDACTED}\n"


def test_scrub_notebook__redacts_injected_and_recorded_secret_parameters(small_notebook):
    notebook = small_notebook()
    notebook["metadata"]["papermill"]["parameters"] = {"environment": "dev", "db_password": "hunter22"}
    notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "inj", "outputs": [],
                                 "metadata": {"tags": ["injected-parameters"]},
                                 "source": '# Parameters\ndb_password = "hunter22"\n'})
    redactor = Redactor.for_run({"db_password": "hunter22"}, environ={})

    scrubbed = redactor.scrub_notebook(json.loads(json.dumps(notebook)))

    assert scrubbed["metadata"]["papermill"]["parameters"] == {"environment": "dev", "db_password": REDACTED}
    assert scrubbed["cells"][0]["source"] == f'# Parameters\ndb_password = "{REDACTED}"\n'
