"""The import dry run against the sandbox over HTTP: it finds the resource, reads its configuration for the
declaration, looks it up in the stack's state, and refuses bad input before any AWS call."""

from __future__ import annotations

from unittest import mock

import pytest

from tradai_nb import config
from tradai_nb.aws import EnvironmentSession
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.importable import IMPORT_TYPES, import_request
from tradai_nb.ops import resource_import

pytestmark = pytest.mark.sandbox


def _request(settings, stack, token, name, resource_id, parent=""):
    return import_request(settings.environment, stack, token, name, resource_id, parent)


def test_dry_run__of_a_rehearsal_bucket_finds_it_and_shows_its_declaration(sandbox):
    bucket = config.get_bucket_name("results", "local")

    plan = resource_import.plan_import(sandbox.session, sandbox.settings,
                                       _request(sandbox.settings, "persistent", "aws:s3:Bucket", "imported-results",
                                                bucket))

    row = plan.table().iloc[0]
    assert (row["type"], row["id"], bool(row["found"])) == ("aws:s3/bucket:Bucket", bucket, True)
    assert f"bucket={bucket!r}" in plan.code and f"import_={bucket!r}" in plan.code
    compile(f"import json\nimport pulumi\nimport pulumi_aws as aws\nparent = None\n{plan.code}", "declaration", "exec")
    assert "tradai_nb/stacks/persistent/s3.py" in plan.instructions()


def test_dry_run__of_an_ecs_service_by_arn_imports_it_as_cluster_slash_service(sandbox):
    ecs = sandbox.session.client("ecs")
    cluster, service = config.get_cluster_name("local"), config.get_service_name("backend", "local")
    arn = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["serviceArn"]

    plan = resource_import.plan_import(sandbox.session, sandbox.settings,
                                       _request(sandbox.settings, "compute", "aws:ecs:Service", "backend-adopted", arn))

    assert plan.request.id == f"{cluster}/{service}"
    assert plan.arguments["name"] == service and plan.arguments["cluster"].endswith(f"cluster/{cluster}")
    assert "tradai_nb/stacks/compute/ecs_services.py" in plan.instructions()


@pytest.mark.parametrize(("stack", "token", "resource_id", "argument"), [
    ("persistent", "aws:dynamodb/table:Table", lambda: config.get_table_name("workflow_state", "local"), "hash_key"),
    ("persistent", "aws:ecr/repository:Repository", lambda: config.get_ecr_repo_name("backend"),
     "image_tag_mutability"),
    ("compute", "aws:cloudwatch/logGroup:LogGroup", lambda: config.CONSOLIDATED_LOG_GROUP, "name"),
    ("compute", "aws:iam/role:Role", lambda: config.get_resource_name("lambda", "local"), "assume_role_policy"),
    ("compute", "aws:lambda/function:Function", lambda: config.get_function_name("health-check", "local"), "role"),
], ids=["dynamodb", "ecr", "log-group", "iam-role", "lambda"])
def test_dry_run__finds_each_supported_type_in_the_sandbox(sandbox, stack, token, resource_id, argument):
    plan = resource_import.plan_import(sandbox.session, sandbox.settings,
                                       _request(sandbox.settings, stack, token, "adopted", resource_id()))

    assert plan.arguments[argument] and plan.details
    compile(f"import json\nimport pulumi\nimport pulumi_aws as aws\n{plan.code}", "declaration", "exec")


def test_dry_run__of_a_queue_by_url(sandbox):
    url = sandbox.session.client("sqs").list_queues()["QueueUrls"][0]

    plan = resource_import.plan_import(sandbox.session, sandbox.settings,
                                       _request(sandbox.settings, "foundation", "aws:sqs:Queue", "adopted-queue", url))

    assert plan.arguments["name"] == url.rsplit("/", 1)[-1] and plan.details.startswith("arn:aws:sqs:")


def test_dry_run__of_a_missing_bucket_says_what_was_checked(sandbox):
    with pytest.raises(OperationError, match="does not exist .*head_bucket"):
        resource_import.plan_import(sandbox.session, sandbox.settings,
                                    _request(sandbox.settings, "persistent", "aws:s3:Bucket", "ghost",
                                             "tradai-no-such-bucket-local"))


def test_dry_run__of_a_bucket_outside_the_state_says_it_is_not_managed(sandbox):
    sandbox.session.client("s3").create_bucket(Bucket="tradai-handmade-local",
                                               CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})

    plan = resource_import.import_resource(sandbox.session, sandbox.settings, stack="persistent",
                                           resource_type="aws:s3/bucket:Bucket", name="handmade",
                                           resource_id="tradai-handmade-local")

    assert plan.in_state == "" and plan.table().iloc[0]["in_state"] == "no"
    assert "--no-dry-run" in plan.instructions()


@pytest.mark.parametrize(("stack", "token", "name", "resource_id", "parent", "parameter"), [
    ("persistent", "aws:ec2/vpc:Vpc", "x", "vpc-1", "", "resource_type"),
    ("persistent", "aws:s3:Bucket", "my bucket", "tradai-configs-local", "", "name"),
    ("persistent", "aws:s3:Bucket", "b", "Not A Bucket", "", "resource_id"),
    ("compute", "aws:ecs:Service", "s", "arn:aws:ecs:eu-central-1:123:service/only-one-part", "", "resource_id"),
    ("compute", "aws:sqs:Queue", "q", "tradai-backtest-local", "", "resource_id"),
    ("compute", "aws:iam:Role", "r", "role", "not-a-urn", "parent"),
    ("compute", "aws:iam:Role", "r", "role", "urn:pulumi:dev::tradai-compute::aws:iam/role:Role::other", "parent"),
    ("network", "aws:iam:Role", "r", "role", "", "stack"),
], ids=["unknown-type", "name-with-space", "bad-bucket-id", "malformed-service-arn", "queue-name-not-url",
        "malformed-parent", "parent-of-another-env", "unknown-stack"])
def test_bad_input__is_a_parameter_error_before_any_aws_call(settings_of, stack, token, name, resource_id, parent,
                                                            parameter):
    session = mock.create_autospec(EnvironmentSession, instance=True)

    with pytest.raises(ParameterError) as refused:
        resource_import.import_resource(session, settings_of("local"), stack=stack, resource_type=token, name=name,
                                        resource_id=resource_id, parent=parent)

    assert refused.value.name == parameter
    session.client.assert_not_called()
    if parameter == "resource_type":
        assert "--type" in str(refused.value) and all(t in str(refused.value) for t in IMPORT_TYPES)


def test_supported_types__are_the_tokens_of_their_pulumi_aws_classes():
    import importlib

    import pulumi_aws as aws
    from pulumi.type_token import get_type_token

    for token, kind in IMPORT_TYPES.items():
        module, cls = kind.python_class.removeprefix("aws.").rsplit(".", 1)
        assert get_type_token(getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)) == token
    assert aws  # the declarations name the package as `aws`
