"""The rehearsal estate seeded into the sandbox: names from config.py, tagged, complete, and seeded idempotently."""

from __future__ import annotations

import time
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from tradai_nb import config
from tradai_nb.aws import session_for
from tradai_nb.errors import SandboxError
from tradai_nb.sandbox import rehearsal_data
from tradai_nb.sandbox import server as sandbox_api
from tradai_nb.sandbox.estate import estate_counts
from tradai_nb.settings import load_settings
from tradai_nb.stacks.compute.step_functions import state_machine_name

ENV = "local"


def _names(seeded, kind: str) -> set[str]:
    return set(seeded.loc[seeded["kind"] == kind, "name"])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("s3 bucket", {config.get_bucket_name(k, ENV) for k in (*config.S3_BUCKETS, config.STATE_BUCKET_KEY)}),
        ("dynamodb table", {config.get_table_name(k, ENV) for k in config.DYNAMODB_TABLES}),
        ("ecr repository", {config.get_ecr_repo_name(r) for r in config.ECR_REPOSITORIES}),
        ("ecs cluster", {config.get_cluster_name(ENV)}),
        ("ecs service", {config.get_service_name(s, ENV) for s in config.SERVICES}),
        ("lambda function", {config.get_function_name(f, ENV) for f in config.LAMBDA_FUNCTIONS}),
        ("sns topic", {config.get_resource_name(t, ENV) for t in config.SNS_TOPICS}),
        ("log group", {config.CONSOLIDATED_LOG_GROUP, config.get_service_log_group(config.LIVE_TRADING_SERVICE, ENV),
                       *(f"/aws/lambda/{config.get_function_name(f, ENV)}" for f in config.LAMBDA_FUNCTIONS),
                       f"/aws/vendedlogs/states/{state_machine_name(ENV)}",
                       f"/aws/apigateway/{config.get_resource_name('api', ENV)}", f"/tradai/{ENV}/vpc-flow-logs"}),
        # The consolidated host's, and the NAT instance's of the foundation stack.
        ("auto scaling group", {config.get_consolidated_name(ENV), config.get_resource_name("nat", ENV)}),
        ("launch template", {config.get_consolidated_name(ENV), config.get_resource_name("nat", ENV)}),
    ],
    ids=["buckets", "tables", "ecr-repositories", "cluster", "services", "lambdas", "topics", "log-groups", "asg",
         "launch-template"],
)
def test_seed__creates_every_resource_under_its_config_name(sandbox, kind, expected):
    created = sandbox.seeded[(sandbox.seeded["kind"] == kind) & (sandbox.seeded["action"] == "created")]

    assert set(created["name"]) == expected


def test_seed__the_estate_holds_what_the_seed_created(sandbox):
    counts = dict(estate_counts(sandbox.session).itertuples(index=False))
    # A fresh sandbox's first seed creates each resource, or finds it made by what it created before (the Object
    # Lock bucket is versioned from its creation; the planned task definition is the first rehearsal revision): the
    # estate holds each created one, and at most one more per such row.
    rows = sandbox.seeded.groupby(["kind", "action"]).size().unstack(fill_value=0)
    created, exists = rows["created"].to_dict(), rows["exists"].to_dict()

    assert {k: counts[k] for k in created if counts[k] < created[k] or counts[k] > created[k] + exists[k]} == {}
    assert set(sandbox.seeded["action"]) == {"created", "exists"}
    assert counts["ecr repository"] == 24 and counts["dynamodb table"] == 12 and counts["s3 bucket"] == 6


def test_seed__services_run_the_latest_of_three_revisions_with_distinct_images(sandbox):
    ecs = sandbox.session.client("ecs")
    ecr = sandbox.session.client("ecr")
    cluster = config.get_cluster_name(ENV)
    for service, spec in config.SERVICES.items():
        family = config.get_service_name(service, ENV)
        running = ecs.describe_services(cluster=cluster, services=[family])["services"][0]["taskDefinition"]
        revisions = [ecs.describe_task_definition(taskDefinition=f"{family}:{n}")["taskDefinition"] for n in (1, 2, 3)]
        containers = [revision["containerDefinitions"][0] for revision in revisions]
        images = [container["image"] for container in containers]

        assert running.endswith(f"task-definition/{family}:3")
        assert {c["name"] for c in containers} == {spec["container"]}
        assert len(set(images)) == 3
        for image in images:
            repository, tag = image.rsplit("/", 1)[1], image.rsplit(":", 1)[1]
            assert repository.startswith(service)
            found = ecr.batch_get_image(repositoryName=config.get_ecr_repo_name(service), imageIds=[{"imageTag": tag}])
            assert len(found["images"]) == 1, image


def test_seed__services_run_in_the_planned_private_subnet_with_the_planned_ecs_group(sandbox, rehearsal):
    """The rehearsal services sit where the compute stack puts its services: the foundation's first private subnet
    and its ECS security group, as the rehearsal state exports them, inside the planned VPC."""
    foundation = rehearsal.exports("foundation")
    ecs = sandbox.session.client("ecs")
    ec2 = sandbox.session.client("ec2")
    families = [config.get_service_name(service, ENV) for service in config.SERVICES]
    described = ecs.describe_services(cluster=config.get_cluster_name(ENV), services=families)["services"]
    assert len(described) == len(config.SERVICES)
    for service in described:
        network = service["networkConfiguration"]["awsvpcConfiguration"]
        assert network["subnets"] == [foundation["private_subnet_ids"][0]], service["serviceName"]
        assert network["securityGroups"] == [foundation["ecs_sg_id"]], service["serviceName"]
    subnet = ec2.describe_subnets(SubnetIds=[foundation["private_subnet_ids"][0]])["Subnets"][0]
    assert subnet["VpcId"] == foundation["vpc_id"] and not subnet["DefaultForAz"]


def test_seed__consolidated_host_is_one_running_instance_of_its_asg(sandbox):
    name = config.get_consolidated_name(ENV)
    reservations = sandbox.session.client("ec2").describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [name]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]
    group = sandbox.session.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]

    assert len(instances) == 1
    assert [i["InstanceId"] for i in group["Instances"]] == [instances[0]["InstanceId"]]
    assert group["LaunchTemplate"]["LaunchTemplateName"] == name
    assert instances[0]["InstanceType"] == sandbox.settings.consolidated_instance_type


def test_seed__log_events_are_recent_one_stream_per_container_over_several_pages(sandbox):
    paginator = sandbox.session.client("logs").get_paginator("filter_log_events")
    pages = list(paginator.paginate(logGroupName=config.CONSOLIDATED_LOG_GROUP, PaginationConfig={"PageSize": 100}))
    events = [event for page in pages for event in page["events"]]
    now_ms = int(time.time() * 1000)

    assert len(pages) >= 3
    assert len(events) >= 300
    assert {e["logStreamName"] for e in events} == {str(s["container"]) for s in config.SERVICES.values()}
    assert all(now_ms - 30 * 60_000 <= e["timestamp"] <= now_ms for e in events)
    assert {e["message"].split()[0] for e in events} == set(config.SERVICES)


def test_seed__lambda_functions_are_container_images_from_their_repositories(sandbox):
    lambda_client = sandbox.session.client("lambda")
    ecr = sandbox.session.client("ecr")
    for function in config.LAMBDA_FUNCTIONS:
        described = lambda_client.get_function(FunctionName=config.get_function_name(function, ENV))
        image_uri = described["Code"]["ImageUri"]
        repository_and_tag = urlparse(f"https://{image_uri}").path.lstrip("/")
        repository, tag = repository_and_tag.rsplit(":", 1)

        assert described["Configuration"]["PackageType"] == "Image"
        assert repository == config.get_ecr_repo_name(function)
        assert ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageTag": tag}])["images"]


def test_seed__every_repository_holds_an_image(sandbox):
    ecr = sandbox.session.client("ecr")
    empty = [r for r in config.ECR_REPOSITORIES if not ecr.list_images(repositoryName=config.get_ecr_repo_name(r))["imageIds"]]

    assert empty == []


def test_seed__state_bucket_is_versioned(sandbox):
    bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, ENV)

    assert sandbox.session.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_seed__backtest_queue_redrives_to_its_dead_letter_queue(sandbox):
    sqs = sandbox.session.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=config.get_resource_name(config.BACKTEST_QUEUE, ENV))["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=config.get_resource_name(f"{config.BACKTEST_QUEUE}-dlq", ENV))["QueueUrl"]
    redrive = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    assert f'"deadLetterTargetArn": "{dlq_arn}"' in redrive


def test_seed__alarms_notify_the_alerts_topic_and_the_state_machine_exists(sandbox):
    alarms = sandbox.session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    machines = sandbox.session.client("stepfunctions").list_state_machines()["stateMachines"]
    alerts = f":{config.get_resource_name('alerts', ENV)}"

    assert len(alarms) >= 3
    assert all(a["AlarmActions"] and a["AlarmActions"][0].endswith(alerts) for a in alarms)
    assert [m["name"] for m in machines] == [state_machine_name(ENV)]


def _tags_of(session, kind: str) -> dict[str, str]:
    """Tags of one seeded resource of a kind, as a plain mapping."""
    if kind == "ecs service":
        ecs = session.client("ecs")
        arn = ecs.describe_services(cluster=config.get_cluster_name(ENV), services=[config.get_service_name("backend", ENV)])[
            "services"][0]["serviceArn"]
        return {t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"]}
    if kind == "ec2 instance":
        reservations = session.client("ec2").describe_instances(
            Filters=[{"Name": "tag:Name", "Values": [config.get_consolidated_name(ENV)]}])["Reservations"]
        return {t["Key"]: t["Value"] for t in reservations[0]["Instances"][0]["Tags"]}
    if kind == "s3 bucket":
        tag_set = session.client("s3").get_bucket_tagging(Bucket=config.get_bucket_name("results", ENV))["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}
    if kind == "dynamodb table":
        dynamodb = session.client("dynamodb")
        arn = dynamodb.describe_table(TableName=config.get_table_name("order_history", ENV))["Table"]["TableArn"]
        return {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    if kind == "ecr repository":
        ecr = session.client("ecr")
        arn = ecr.describe_repositories(repositoryNames=[config.get_ecr_repo_name("mlflow")])["repositories"][0]["repositoryArn"]
        return {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}
    if kind == "lambda function":
        return session.client("lambda").get_function(FunctionName=config.get_function_name("health-check", ENV))["Tags"]
    if kind == "sqs queue":
        sqs = session.client("sqs")
        url = sqs.get_queue_url(QueueName=config.get_resource_name(config.BACKTEST_QUEUE, ENV))["QueueUrl"]
        return sqs.list_queue_tags(QueueUrl=url)["Tags"]
    if kind == "log group":
        return session.client("logs").list_tags_log_group(logGroupName=config.CONSOLIDATED_LOG_GROUP)["tags"]
    if kind == "cloudwatch alarm":
        cloudwatch = session.client("cloudwatch")
        arn = cloudwatch.describe_alarms()["MetricAlarms"][0]["AlarmArn"]
        return {t["Key"]: t["Value"] for t in cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    if kind == "state machine":
        sfn = session.client("stepfunctions")
        arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        return {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]}
    raise AssertionError(f"no tag reader for {kind}")


@pytest.mark.parametrize(
    "kind",
    ["ecs service", "ec2 instance", "s3 bucket", "dynamodb table", "ecr repository", "lambda function", "sqs queue",
     "log group", "cloudwatch alarm", "state machine"],
    ids=lambda kind: kind.replace(" ", "-"),
)
def test_seed__resources_are_tagged_as_a_rehearsal_estate(sandbox, kind):
    tags = _tags_of(sandbox.session, kind)

    assert tags.get("Purpose") == "rehearsal"
    assert tags.get("Environment") == ENV and tags.get("Project") == config.PROJECT_NAME


def test_seed__a_second_seed_creates_nothing_and_no_new_revisions(sandbox):
    ecs = sandbox.session.client("ecs")
    families = [config.get_service_name(s, ENV) for s in config.SERVICES]
    counts_before = estate_counts(sandbox.session)
    revisions_before = {f: ecs.list_task_definitions(familyPrefix=f)["taskDefinitionArns"] for f in families}

    reseeded = sandbox_api.seed(sandbox.session, sandbox.settings)

    assert set(reseeded["action"]) == {"exists"}
    assert len(reseeded) == len(sandbox.seeded)
    assert estate_counts(sandbox.session).equals(counts_before)
    assert {f: ecs.list_task_definitions(familyPrefix=f)["taskDefinitionArns"] for f in families} == revisions_before


def test_seed__runs_extra_seeders_after_the_built_in_ones(sandbox):
    state_bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, ENV)
    seen = []

    def seed_probe(session, settings):
        # Runs last, so everything the built-in seeders make is already there.
        seen.append(session.client("s3").head_bucket(Bucket=state_bucket)["ResponseMetadata"]["HTTPStatusCode"])
        yield "probe", settings.environment, "exists"

    seeded = sandbox_api.seed(sandbox.session, sandbox.settings, extra_seeders=[seed_probe])

    assert seen == [200]
    assert seeded.iloc[-1].tolist() == ["probe", ENV, "exists"]


@pytest.mark.parametrize("target", ["dev-environment", "other-port"], ids=["dev-environment", "other-port"])
def test_seed__refuses_anything_but_the_sandbox_session(sandbox, target, free_port):
    if target == "dev-environment":
        settings = load_settings("dev", {"aws_profile": None})
        session = session_for(settings)
    else:
        settings = sandbox.settings
        session = session_for(load_settings(ENV, {"sandbox_port": free_port}))

    with pytest.raises(SandboxError, match="seeded only into the sandbox"):
        sandbox_api.seed(session, settings)


@pytest.fixture
def own_sandbox(tmp_path, free_port):
    """A seeded sandbox of this test's own: refreshing the logs of the session's would change what other tests
    count."""
    settings = load_settings(ENV, {"sandbox_port": free_port})
    sandbox_api.start(settings, home=tmp_path / "home")
    try:
        session = session_for(settings)
        sandbox_api.seed(session, settings)
        yield SimpleNamespace(settings=settings, session=session)
    finally:
        sandbox_api.stop(home=tmp_path / "home")


def test_seed__log_streams_gone_quiet_get_a_fresh_batch(own_sandbox, monkeypatch):
    sandbox = own_sandbox
    logs = sandbox.session.client("logs")

    def newest_event_ms() -> int:
        streams = logs.describe_log_streams(logGroupName=config.CONSOLIDATED_LOG_GROUP)["logStreams"]
        return max(s["lastEventTimestamp"] for s in streams)

    before = newest_event_ms()
    # Every stream now counts as quiet, as it would after the sandbox has run idle for a while.
    monkeypatch.setattr(rehearsal_data, "LOG_REFRESH_AFTER_MIN", -1)

    reseeded = sandbox_api.seed(sandbox.session, sandbox.settings)

    streams = reseeded[reseeded["kind"] == "log stream"]
    assert set(streams["action"]) == {"refreshed"} and len(streams) == len(config.SERVICES)
    assert newest_event_ms() > before
