"""Redaction: which names and variables hold secrets, and scrubbing them (and displayed Pulumi secrets) out."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus

import pytest
from pulumi.runtime import rpc

from tradai_nb.redaction import (
    PASSPHRASE_FILE_VARIABLE,
    PULUMI_SECRET_SIG,
    PULUMI_SIG_KEY,
    REDACTED,
    SECRET_ENVIRONMENT_VARIABLES,
    Redactor,
    environment_secrets,
    environment_secrets_by_variable,
    is_secret_name,
)

SECRET_NAMES = ["db_passwd", "client_secret_b64", "PULUMI_ACCESS_TOKEN", "aws_secret_access_key", "apiKey", "APIKey",
                "github_token", "PULUMI_CONFIG_PASSPHRASE", "api_token", "db_password", "pulumi_passphrase",
                "client_secret", "api_key", "privateKey", "signing-key", "oauth.credentials", "admin pwd", "password2"]
ORDINARY_NAMES = ["key", "key_name", "lock_id", "backup_id", "stack", "keyboard", "monkey", "tokenizer_name", "action",
                  "alb_dns_name", "environment", "state_file", "secrets_provider", "token_count", "secret_arn",
                  "access_key_id", "AWS_ACCESS_KEY_ID", "PULUMI_CONFIG_PASSPHRASE_FILE"]


@pytest.mark.parametrize("name", SECRET_NAMES, ids=SECRET_NAMES)
def test_name_with_a_secret_word_or_pair__is_a_secret_name(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ORDINARY_NAMES, ids=ORDINARY_NAMES)
def test_name_without_one_or_ending_in_a_reference_word__is_not_a_secret_name(name):
    assert not is_secret_name(name)


def test_bare_key__is_not_a_secret_name_so_the_outputs_runbook_records_which_output_it_read():
    redactor = Redactor.for_run({"key": "alb_dns_name"}, environ={})

    assert redactor.parameters({"environment": "dev", "key": "alb_dns_name"}) == {"environment": "dev",
                                                                                 "key": "alb_dns_name"}


@pytest.mark.parametrize("name", ["db_passwd", "client_secret_b64", "PULUMI_ACCESS_TOKEN"],
                         ids=["db_passwd", "client_secret_b64", "PULUMI_ACCESS_TOKEN"])
def test_parameters__values_of_names_the_suffix_rule_missed_are_redacted_and_scrubbed(name):
    value = "Zm9vYmFyLXNlY3JldA=="
    redactor = Redactor.for_run({name: value}, environ={})

    assert redactor.parameters({name: value, "label": f"echo {value}"}) == {name: REDACTED, "label": f"echo {REDACTED}"}


def test_parameters__a_non_string_secret_value_is_scrubbed_by_its_json():
    redactor = Redactor.for_run({"db_password": 987654321}, environ={})

    assert redactor.scrub("pin 987654321") == f"pin {REDACTED}"


def test_pulumi_markers__are_the_sdk_s_own():
    assert (PULUMI_SIG_KEY, PULUMI_SECRET_SIG) == (rpc._special_sig_key, rpc._special_secret_sig)


def test_environment_secrets__by_variable_with_the_passphrase_file_as_read_and_stripped(tmp_path):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("from-the-file\n")
    environ = {"PULUMI_CONFIG_PASSPHRASE": "pp-value", "PULUMI_ACCESS_TOKEN": "pul-token", "AWS_ACCESS_KEY_ID": "AKIA1",
               "AWS_SECRET_ACCESS_KEY": "sk-value", "AWS_SESSION_TOKEN": "st-value", "HOME": "/root",
               PASSPHRASE_FILE_VARIABLE: str(passphrase_file)}

    assert environment_secrets_by_variable(environ) == {
        "PULUMI_CONFIG_PASSPHRASE": ("pp-value",), "PULUMI_ACCESS_TOKEN": ("pul-token",),
        "AWS_SECRET_ACCESS_KEY": ("sk-value",), "AWS_SESSION_TOKEN": ("st-value",),
        PASSPHRASE_FILE_VARIABLE: ("from-the-file\n", "from-the-file")}
    assert environment_secrets(environ) == {"pp-value", "pul-token", "sk-value", "st-value", "from-the-file\n",
                                            "from-the-file"}


@pytest.mark.parametrize("variable", SECRET_ENVIRONMENT_VARIABLES, ids=SECRET_ENVIRONMENT_VARIABLES)
def test_environment_secrets__each_variable_s_value_is_scrubbed(variable):
    redactor = Redactor.for_run({}, environ={variable: "pul-0123456789abcdef"})

    assert redactor.scrub("Authorization: token pul-0123456789abcdef") == f"Authorization: token {REDACTED}"


def test_environment_secrets__access_key_id_is_an_identifier_and_stays_in_records():
    redactor = Redactor.for_run({}, environ={"AWS_ACCESS_KEY_ID": "EXAMPLE-ACCESS-KEY-ID-0001"})

    assert "AWS_ACCESS_KEY_ID" not in SECRET_ENVIRONMENT_VARIABLES
    assert redactor.scrub("called by EXAMPLE-ACCESS-KEY-ID-0001") == "called by EXAMPLE-ACCESS-KEY-ID-0001"


def test_environment_secrets__an_unreadable_passphrase_file_gives_nothing_to_scrub(tmp_path):
    assert environment_secrets_by_variable({PASSPHRASE_FILE_VARIABLE: str(tmp_path / "missing")}) == {}


def test_scrub__replaces_plain_json_escaped_and_repr_escaped_forms():
    secret = 'a"b\\c-long'
    redactor = Redactor([secret])
    text = f"plain {secret} json {json.dumps(secret)} repr {secret!r}"

    scrubbed = redactor.scrub({"outputs": [text]})

    assert scrubbed == {"outputs": [f"plain {REDACTED} json \"{REDACTED}\" repr '{REDACTED}'"]}
    assert not redactor.leaks(json.dumps(scrubbed))


def test_scrub__a_secret_containing_another_is_replaced_whole():
    redactor = Redactor(["abcdefgh", "abcdefgh-ijkl"])

    assert redactor.scrub("x abcdefgh-ijkl y abcdefgh") == f"x {REDACTED} y {REDACTED}"


# One character of each kind some encoding rewrites: HTML (& < > " '), JSON and repr (\), URL (/ + space), non-ASCII.
SECRET = "pa&ss<wo>rd\"q'\\s/l+a sh-é"
FORMS = {
    "json": json.dumps(SECRET)[1:-1],
    "json-ascii-off": json.dumps(SECRET, ensure_ascii=False)[1:-1],
    "repr": repr(SECRET)[1:-1],
    "html-quote": html.escape(SECRET, quote=True),
    "html-no-quote": html.escape(SECRET, quote=False),
    "url-safe-none": quote(SECRET, safe=""),
    "url-default-safe": quote(SECRET),
    "url-plus": quote_plus(SECRET),
}


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
def test_leaks__finds_every_escaped_form(form):
    assert form != SECRET
    assert Redactor([SECRET]).leaks(f"shown: {form}.")


@pytest.mark.parametrize("form", list(FORMS.values()), ids=list(FORMS))
def test_scrub_notebook__removes_each_escaped_form_from_an_html_table_and_a_json_output(form, small_notebook):
    notebook = small_notebook()
    notebook["cells"][0]["outputs"] += [
        {"output_type": "display_data", "metadata": {},
         "data": {"text/html": [f"<table><tr><th>passphrase</th><td>{form}</td></tr></table>"],
                  "text/plain": ["passphrase: …"]}},
        {"output_type": "display_data", "metadata": {}, "data": {"application/json": {"config": {"shown": form}}}},
    ]
    redactor = Redactor.for_run({}, environ={"PULUMI_CONFIG_PASSPHRASE": SECRET})

    scrubbed = redactor.scrub_notebook(json.loads(json.dumps(notebook)))

    stored = json.dumps(scrubbed, ensure_ascii=False)
    assert form not in stored and json.dumps(form)[1:-1] not in json.dumps(scrubbed)
    assert not redactor.leaks(stored) and not redactor.leaks(json.dumps(scrubbed))
    table, data = scrubbed["cells"][0]["outputs"][-2:]
    assert table["data"]["text/html"] == [f"<table><tr><th>passphrase</th><td>{REDACTED}</td></tr></table>"]
    assert data["data"]["application/json"] == {"config": {"shown": REDACTED}}


def test_scrub__a_url_encoded_secret_in_a_url():
    token = "ghp_a/b+c d=e&f"
    redactor = Redactor.for_run({"github_token": token}, environ={})

    scrubbed = redactor.scrub(f"GET https://api.example.com/hook?token={quote(token, safe='')}"
                              f"&next={quote_plus(token)}")

    assert scrubbed == f"GET https://api.example.com/hook?token={REDACTED}&next={REDACTED}"


def test_parameters__secret_names_redacted_other_values_scrubbed():
    redactor = Redactor.for_run({"api_token": "t0k-long-enough", "label": "x"},
                                environ={"PULUMI_CONFIG_PASSPHRASE": "pp-long-enough"})

    assert redactor.parameters({"api_token": "t0k-long-enough", "label": "has pp-long-enough and t0k-long-enough",
                                "count": 3}) == {"api_token": REDACTED, "label": f"has {REDACTED} and {REDACTED}",
                                                 "count": 3}


def _envelope(value: str) -> dict:
    return {PULUMI_SIG_KEY: PULUMI_SECRET_SIG, "plaintext": json.dumps(value)}


DISPLAYS = {
    "json-text": lambda envelope: {"output_type": "stream", "name": "stdout",
                                   "text": [json.dumps({"pw": envelope}, indent=2)]},
    "json-text-lines": lambda envelope: {"output_type": "stream", "name": "stdout",
                                         "text": json.dumps({"pw": envelope}, indent=2).splitlines(keepends=True)},
    "python-repr": lambda envelope: {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                     "data": {"text/plain": [repr({"pw": envelope})]}},
    "json-data": lambda envelope: {"output_type": "display_data", "metadata": {},
                                   "data": {"application/json": {"pw": envelope}}},
}


@pytest.mark.parametrize("display", list(DISPLAYS.values()), ids=list(DISPLAYS))
def test_scrub_notebook__removes_values_displayed_as_pulumi_secrets(display, small_notebook):
    notebook = small_notebook()
    notebook["cells"][0]["outputs"].append(display(_envelope("s3cr3t-db-pw")))
    notebook["cells"][0]["outputs"].append({"output_type": "stream", "name": "stdout", "text": "again: s3cr3t-db-pw\n"})

    scrubbed = Redactor().scrub_notebook(json.loads(json.dumps(notebook)))

    assert "s3cr3t-db-pw" not in json.dumps(scrubbed)
    assert scrubbed["cells"][0]["outputs"][-1]["text"] == f"again: {REDACTED}\n"


@pytest.mark.parametrize("display", list(DISPLAYS.values()), ids=list(DISPLAYS))
def test_scrub_notebook__a_short_pulumi_secret_is_redacted_where_displayed_and_nowhere_else(display, small_notebook):
    notebook = small_notebook("port 5432 on tradai-db")
    notebook["cells"][0]["outputs"].append(display(_envelope("tradai")))

    scrubbed = Redactor().scrub_notebook(json.loads(json.dumps(notebook)))

    first, displayed = scrubbed["cells"][0]["outputs"]
    assert first["text"] == "port 5432 on tradai-db\n"
    assert "tradai" not in json.dumps(displayed) and REDACTED in json.dumps(displayed)


def test_scrub_notebook__redacts_injected_and_recorded_secret_parameters(small_notebook):
    notebook = small_notebook()
    notebook["metadata"]["papermill"]["parameters"] = {"environment": "dev", "db_password": "hunter22", "key": "vpc_id"}
    notebook["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "inj", "outputs": [],
                                 "metadata": {"tags": ["injected-parameters"]},
                                 "source": '# Parameters\ndb_password = "hunter22"\n'})
    redactor = Redactor.for_run({"db_password": "hunter22"}, environ={})

    scrubbed = redactor.scrub_notebook(json.loads(json.dumps(notebook)))

    assert scrubbed["metadata"]["papermill"]["parameters"] == {"environment": "dev", "db_password": REDACTED,
                                                               "key": "vpc_id"}
    assert scrubbed["cells"][0]["source"] == f'# Parameters\ndb_password = "{REDACTED}"\n'
