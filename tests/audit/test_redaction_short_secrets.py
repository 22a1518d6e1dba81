"""Secrets too short to scrub: never used as substrings, reported by name, refused in staging and prod."""

from __future__ import annotations

import json

import pytest

from tradai_nb.errors import GuardError
from tradai_nb.redaction import MIN_SCRUB_LENGTH, PASSPHRASE_FILE_VARIABLE, REDACTED, Redactor, check_secret_strength


def test_short_passphrase__leaves_resource_names_intact_and_is_reported_by_name(small_notebook):
    redactor = Redactor.for_run({"environment": "local"}, environ={"PULUMI_CONFIG_PASSPHRASE": "tradai"})

    scrubbed = redactor.scrub_notebook(json.loads(json.dumps(small_notebook("tradai-backend-local is RUNNING"))))

    assert scrubbed["cells"][0]["outputs"][0]["text"] == "tradai-backend-local is RUNNING\n"
    assert REDACTED not in json.dumps(scrubbed)
    assert redactor.too_short == ("PULUMI_CONFIG_PASSPHRASE",)


@pytest.mark.parametrize("environment", ["local", "dev"], ids=["local", "dev"])
def test_check_secret_strength__warns_in_local_and_dev_naming_the_variable_never_the_value(environment):
    redactor = Redactor.for_run({}, environ={"PULUMI_CONFIG_PASSPHRASE": "tradai"})

    warnings = check_secret_strength(environment, redactor)

    assert warnings == ["PULUMI_CONFIG_PASSPHRASE is shorter than 8 characters: too short to scrub safely from stored "
                        "notebooks; use a longer passphrase"]
    assert "tradai" not in " ".join(warnings)


def test_check_secret_strength__a_short_passphrase_file_is_named_by_its_variable(tmp_path):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("q7x\n")
    redactor = Redactor.for_run({}, environ={PASSPHRASE_FILE_VARIABLE: str(passphrase_file)})

    warnings = check_secret_strength("dev", redactor)

    assert redactor.too_short == (PASSPHRASE_FILE_VARIABLE,)
    assert len(warnings) == 1 and PASSPHRASE_FILE_VARIABLE in warnings[0] and "q7x" not in warnings[0]


@pytest.mark.parametrize("environment", ["staging", "prod"], ids=["staging", "prod"])
@pytest.mark.parametrize(
    ("environ", "parameters", "name"),
    [({"PULUMI_CONFIG_PASSPHRASE": "tradai"}, {}, "PULUMI_CONFIG_PASSPHRASE"),
     ({"AWS_SESSION_TOKEN": "tradai"}, {}, "AWS_SESSION_TOKEN"),
     ({}, {"db_password": "tradai"}, "db_password")],
    ids=["passphrase", "session-token", "secret-parameter"],
)
def test_check_secret_strength__staging_and_prod_refuse_naming_the_source(environment, environ, parameters, name):
    redactor = Redactor.for_run(parameters, environ=environ)

    with pytest.raises(GuardError) as refused:
        check_secret_strength(environment, redactor)

    assert refused.value.name == name
    message = str(refused.value)
    assert name in message and environment in message and f"at least {MIN_SCRUB_LENGTH} characters" in message
    assert "tradai" not in message


def test_check_secret_strength__prod_refusal_of_a_short_passphrase_says_to_set_a_longer_one():
    redactor = Redactor.for_run({}, environ={"PULUMI_CONFIG_PASSPHRASE": "pp"})

    with pytest.raises(GuardError, match="set a passphrase of at least 8 characters"):
        check_secret_strength("prod", redactor)


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"], ids=["local", "dev", "staging", "prod"])
def test_check_secret_strength__secrets_of_8_characters_or_more_pass_everywhere(environment):
    redactor = Redactor.for_run({"api_token": "12345678"}, environ={"PULUMI_CONFIG_PASSPHRASE": "8-chars!"})

    assert check_secret_strength(environment, redactor) == []
    assert redactor.too_short == ()


def test_short_secret_named_parameter__redacted_whole_but_not_scrubbed_from_other_text():
    redactor = Redactor.for_run({"api_token": "t0k"}, environ={})

    assert redactor.parameters({"api_token": "t0k", "label": "t0kens counted"}) == {"api_token": REDACTED,
                                                                                  "label": "t0kens counted"}
    assert redactor.too_short == ("api_token",)
    assert not redactor.leaks("t0k")


def test_too_short__names_each_source_once_in_the_order_met():
    redactor = Redactor.for_run({"db_password": "abc", "api_token": "xyz"},
                                environ={"PULUMI_CONFIG_PASSPHRASE": "pp", "AWS_SESSION_TOKEN": "st"})
    redactor.add("q", source="db_password")

    assert redactor.too_short == ("PULUMI_CONFIG_PASSPHRASE", "AWS_SESSION_TOKEN", "db_password", "api_token")


def test_add__a_short_secret_without_a_source_is_still_reported():
    redactor = Redactor(["pp"])

    assert redactor.scrub("app") == "app"
    assert redactor.too_short == ("an unnamed secret",)


def test_empty_secrets__are_neither_scrubbed_nor_reported():
    redactor = Redactor.for_run({"api_token": ""}, environ={"PULUMI_CONFIG_PASSPHRASE": ""})

    assert redactor.too_short == () and check_secret_strength("prod", redactor) == []
