"""Sessions for the team environments: a profile the machine does not have is a missing prerequisite whose message
says how to configure it, for every entry point (not only `tradai-nb run`)."""

from __future__ import annotations

import pytest

from tradai_nb.aws import session_for
from tradai_nb.errors import CredentialsMissingError
from tradai_nb.settings import load_settings


def test_missing_profile__names_the_profile_the_params_file_and_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    with pytest.raises(CredentialsMissingError) as missing:
        session_for(load_settings("dev", {"aws_profile": "tradai-ops"}))

    message = str(missing.value)
    assert "AWS profile 'tradai-ops' (aws_profile in params/dev.yaml)" in message
    assert "aws sso login --profile tradai-ops" in message
    assert "name another profile in params/dev.yaml" in message and "-p aws_profile=<name>" in message
    assert missing.value.exit_code == 11
