"""Failures of the S3 state store against the sandbox (over HTTP) become messages that say what to check."""

from __future__ import annotations

import pytest

from tradai_nb import config
from tradai_nb.errors import GuardError, OperationError, StateError
from tradai_nb.records.gate import require_confirm
from tradai_nb.settings import load_settings
from tradai_nb.state.backend import S3ObjectStore


def test_s3_store__a_missing_object_is_named(sandbox):
    store = S3ObjectStore(sandbox.session, config.get_bucket_name(config.STATE_BUCKET_KEY, "local"))

    with pytest.raises(StateError, match=r"s3://tradai-pulumi-state-local/\.pulumi/none\.json does not exist"):
        store.read(".pulumi/none.json")
    assert not store.exists(".pulumi/none.json")


def test_s3_store__a_missing_bucket_says_to_check_the_environment(sandbox):
    store = S3ObjectStore(sandbox.session, "tradai-pulumi-state-nowhere")

    with pytest.raises(OperationError, match="listing s3://tradai-pulumi-state-nowhere/.pulumi/: not found "
                                             r"\(NoSuchBucket.*right environment"):
        store.list(".pulumi/")


@pytest.mark.parametrize(("environment", "confirm", "refused"),
                         [("prod", "", True), ("prod", "staging", True), ("prod", "prod", False), ("dev", "", False)],
                         ids=["prod-unconfirmed", "prod-wrong-name", "prod-confirmed", "dev"])
def test_require_confirm__only_staging_and_prod_need_the_name(environment, confirm, refused):
    settings = load_settings(environment)

    if refused:
        with pytest.raises(GuardError) as raised:
            require_confirm(settings.environment, confirm, "clearing the cache")
        assert raised.value.name == "confirm" and "pass confirm='prod'" in str(raised.value)
    else:
        require_confirm(settings.environment, confirm, "clearing the cache")
