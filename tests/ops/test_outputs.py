"""Stack outputs from the sandbox's checkpoints (over HTTP), from folder backends, and through the Automation API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pulumi import automation as auto
from state_fixtures import folder_settings, no_pulumi_cli, plain_session, sdk  # noqa: F401 (fixtures)

from tradai_nb.engine.plan import plan
from tradai_nb.errors import ParameterError
from tradai_nb.ops import outputs
from tradai_nb.settings import load_settings
from tradai_nb.state.backend import FolderObjectStore, StackRef, StateStore
from tradai_nb.state.sealing import SECRET_SIG, SECRET_SIG_KEY

CIPHERTEXT = "v1:c2VjcmV0:KfZ8n2m1"


@pytest.fixture(scope="module")
def local_exports():
    return plan(load_settings("local")).exports


def write_outputs(settings, stack: str, values: dict) -> None:
    ref = StackRef(f"tradai-{stack}", settings.environment)
    root = f"urn:pulumi:{ref.stack}::{ref.project}::pulumi:pulumi:Stack::{ref.project}-{ref.stack}"
    folder = Path(settings.pulumi_backend_url.removeprefix("file://"))
    StateStore(FolderObjectStore(folder)).write_checkpoint(ref, {
        "manifest": {}, "resources": [{"urn": root, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": values}]})


def test_outputs__one_table_holds_every_stacks_exports(sandbox, local_exports):
    table = outputs.stack_outputs(sandbox.session, sandbox.settings)

    assert list(table["stack"].unique()) == list(local_exports)
    for stack, exports in local_exports.items():
        assert set(table.loc[table["stack"] == stack, "key"]) == set(exports), stack
    shown = table.set_index("key")["value"]
    # The VPC is the sandbox's (its id is not the plan's mock one), with the planned CIDR.
    [vpc] = sandbox.session.client("ec2").describe_vpcs(VpcIds=[shown["vpc_id"]])["Vpcs"]
    assert shown["vpc_id"] != local_exports["foundation"]["vpc_id"]
    assert vpc["CidrBlock"] == shown["vpc_cidr"] == local_exports["foundation"]["vpc_cidr"]
    assert json.loads(shown["bucket_names"]) == local_exports["persistent"]["bucket_names"]
    assert not table["secret"].any()


def test_outputs__key_keeps_one_output_across_stacks(sandbox, local_exports):
    table = outputs.stack_outputs(sandbox.session, sandbox.settings, key="alb_dns_name")
    [balancer] = sandbox.session.client("elbv2").describe_load_balancers()["LoadBalancers"]

    assert table.values.tolist() == [["compute", "alb_dns_name", balancer["DNSName"], False]]


def test_outputs__an_unknown_key_lists_the_known_ones(sandbox):
    with pytest.raises(ParameterError, match="no output 'alb_dns' .* alb_dns_name") as raised:
        outputs.stack_outputs(sandbox.session, sandbox.settings, key="alb_dns")

    assert raised.value.name == "key"


def test_outputs__secrets_are_masked_and_their_ciphertext_never_shown(folder_settings, plain_session, no_pulumi_cli):
    secret = {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": CIPHERTEXT}
    write_outputs(folder_settings, "foundation", {"db_password": secret, "endpoints": {"primary": secret},
                                                  "vpc_id": "vpc-0abc"})

    table = outputs.stack_outputs(plain_session, folder_settings)

    assert table.values.tolist() == [["foundation", "db_password", "[secret]", True],
                                     ["foundation", "endpoints", "[secret]", True],
                                     ["foundation", "vpc_id", "vpc-0abc", False]]
    assert CIPHERTEXT not in table.to_string()


def test_outputs__through_the_automation_api_when_the_cli_is_there(folder_settings, plain_session, sdk):
    sdk.stack.outputs.return_value = {
        "alb_dns_name": auto.OutputValue("tradai-dev.elb.amazonaws.com", secret=False),
        "target_group_arns": auto.OutputValue({"backend": "arn:tg:backend"}, secret=False),
        "db_password": auto.OutputValue("s3cr3t-from-state", secret=True),
    }

    table = outputs.stack_outputs(plain_session, folder_settings, stack="compute")

    assert table.values.tolist() == [["compute", "alb_dns_name", "tradai-dev.elb.amazonaws.com", False],
                                     ["compute", "db_password", "[secret]", True],
                                     ["compute", "target_group_arns", '{"backend":"arn:tg:backend"}', False]]
    assert "s3cr3t-from-state" not in table.to_string()
