"""Sessions per environment: local always reaches the sandbox, team environments never do."""

from __future__ import annotations

import pytest

from tradai_nb import config
from tradai_nb.aws import SANDBOX_ACCESS_KEY, session_for
from tradai_nb.errors import AwsAccessError
from tradai_nb.settings import load_settings


@pytest.fixture
def isolated_aws_config(monkeypatch, tmp_path):
    """AWS config and credentials files of the test's own, so no real profile on this machine is involved."""
    config_file = tmp_path / "config"
    credentials_file = tmp_path / "credentials"
    config_file.write_text("")
    credentials_file.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return config_file


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"], ids=["global", "s3-specific"])
def test_local_session__reaches_the_sandbox_whatever_aws_endpoint_url_says(sandbox, monkeypatch, variable):
    monkeypatch.setenv(variable, "http://127.0.0.1:9")

    s3 = session_for(sandbox.settings).client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}

    assert s3.meta.endpoint_url == sandbox.endpoint_url
    assert config.get_bucket_name(config.STATE_BUCKET_KEY, "local") in buckets


def test_local_session__uses_test_credentials_not_the_callers(sandbox, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVIRONMENTKEYID0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-looking-secret")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile-here")

    session = session_for(sandbox.settings)

    assert session.get_credentials().access_key == SANDBOX_ACCESS_KEY
    assert session.client("sts").get_caller_identity()["Account"]


def test_local_session__refuses_an_endpoint_other_than_the_sandbox(sandbox):
    with pytest.raises(AwsAccessError, match="talks only to the sandbox"):
        session_for(sandbox.settings).client("s3", endpoint_url="http://127.0.0.1:9")


def test_dev_session__uses_real_aws_even_when_pointed_at_the_sandbox(sandbox, monkeypatch, isolated_aws_config):
    monkeypatch.setenv("AWS_ENDPOINT_URL", sandbox.endpoint_url)
    isolated_aws_config.write_text(f"[default]\nendpoint_url = {sandbox.endpoint_url}\n")

    session = session_for(load_settings("dev", {"aws_profile": None}))

    assert session.endpoint_url is None
    assert session.client("s3").meta.endpoint_url == "https://s3.eu-central-1.amazonaws.com"
    assert session.client("ecs").meta.endpoint_url == "https://ecs.eu-central-1.amazonaws.com"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5055", "http://localhost:4566", "http://[::1]:5000"],
                         ids=["ipv4", "localhost", "ipv6"])
def test_dev_session__refuses_a_loopback_endpoint(endpoint, isolated_aws_config):
    session = session_for(load_settings("dev", {"aws_profile": None}))

    with pytest.raises(AwsAccessError, match="refusing the loopback endpoint.*--env local"):
        session.client("s3", endpoint_url=endpoint)


def test_dev_session__unknown_profile_says_how_to_configure_it(isolated_aws_config):
    with pytest.raises(AwsAccessError, match="aws configure --profile tradai"):
        session_for(load_settings("dev"))
