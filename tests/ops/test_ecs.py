"""ECS and consolidated-host runbook actions, against the sandbox over HTTP (instance refresh through Stubber)."""

from __future__ import annotations

import copy
import datetime

import pytest

from tradai_nb import config
from tradai_nb.errors import OperationError, ParameterError
from tradai_nb.ops import ecs
from tradai_nb.settings import load_settings

pytestmark = pytest.mark.sandbox


def _service(sandbox, service: str) -> dict:
    client = sandbox.session.client("ecs")
    name = config.get_service_name(service, "local")
    return client.describe_services(cluster=config.get_cluster_name("local"), services=[name])["services"][0]


def _latest_active_revision(sandbox, family: str) -> int:
    arns = sandbox.session.client("ecs").list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return max(int(arn.rsplit(":", 1)[1]) for arn in arns if arn.rsplit("/", 1)[1].rsplit(":", 1)[0] == family)


@pytest.fixture
def bad_release(sandbox):
    """mlflow moved to a new revision with a new image (a release to roll back); afterwards it is back on its
    previous revision and the extra revision is deregistered, as the seeded estate was."""
    client = sandbox.session.client("ecs")
    cluster = config.get_cluster_name("local")
    family = config.get_service_name("mlflow", "local")
    previous = _latest_active_revision(sandbox, family)
    definition = client.describe_task_definition(taskDefinition=f"{family}:{previous}")["taskDefinition"]
    containers = copy.deepcopy(definition["containerDefinitions"])
    containers[0]["image"] = containers[0]["image"].rsplit(":", 1)[0] + ":v9.0.0-bad"
    registered = client.register_task_definition(
        family=family, containerDefinitions=containers, networkMode=definition["networkMode"],
        requiresCompatibilities=definition["requiresCompatibilities"], cpu=definition["cpu"],
        memory=definition["memory"], executionRoleArn=definition["executionRoleArn"],
        taskRoleArn=definition["taskRoleArn"],
    )["taskDefinition"]
    client.update_service(cluster=cluster, service=family, taskDefinition=registered["taskDefinitionArn"])
    try:
        yield {"family": family, "previous": previous, "bad": registered["revision"],
               "previous_image": definition["containerDefinitions"][0]["image"], "bad_image": containers[0]["image"]}
    finally:
        client.update_service(cluster=cluster, service=family, taskDefinition=definition["taskDefinitionArn"])
        client.deregister_task_definition(taskDefinition=registered["taskDefinitionArn"])


@pytest.fixture(scope="module")
def unsettled_service(empty_sandbox):
    """A service in the (otherwise empty) environment cluster that asks for two tasks while moto runs one:
    it never becomes stable."""
    client = empty_sandbox.session.client("ecs")
    cluster = config.get_cluster_name("local")
    client.create_cluster(clusterName=cluster)
    family = "tradai-unsettled-local"
    client.register_task_definition(family=family, containerDefinitions=[{"name": "app", "image": "busybox:1", "memory": 128}])
    client.create_service(cluster=cluster, serviceName=family, taskDefinition=f"{family}:1", desiredCount=2)
    return family


def test_service_status__lists_the_four_seeded_services_with_their_revisions(sandbox):
    status = ecs.service_status(sandbox.session, sandbox.settings)

    assert list(status["service"]) == sorted(config.get_service_name(s, "local") for s in config.SERVICES)
    for row in status.itertuples():
        revision = _latest_active_revision(sandbox, row.service)
        assert (row.revision, row.task_definition) == (revision, f"{row.service}:{revision}")
        assert (row.status, row.desired, row.running, row.pending) == ("ACTIVE", 1, 1, 0)
        assert row.deployments.startswith("PRIMARY rev ")
        assert row.rollout_state == "COMPLETED"


def test_describe_services__asks_ten_services_per_call(empty_sandbox):
    client = empty_sandbox.session.client("ecs")
    cluster = "tradai-batching-check"
    client.create_cluster(clusterName=cluster)
    client.register_task_definition(family="batch", containerDefinitions=[{"name": "app", "image": "busybox:1", "memory": 128}])
    names = [f"batch-{n:02d}" for n in range(23)]
    for name in names:
        client.create_service(cluster=cluster, serviceName=name, taskDefinition="batch:1", desiredCount=1)
    batches = []
    client.meta.events.register("before-parameter-build.ecs.DescribeServices",
                                lambda params, **_: batches.append(len(params["services"])))

    described = ecs.describe_services(client, cluster, names)

    assert sorted(batches) == [3, 10, 10]
    assert [s["serviceName"] for s in described] == names


def test_describe_services__unknown_service_names_the_service(sandbox):
    client = sandbox.session.client("ecs")

    with pytest.raises(OperationError, match="has no service tradai-nowhere-local"):
        ecs.describe_services(client, config.get_cluster_name("local"), ["tradai-nowhere-local"])


def test_force_redeploy__starts_a_new_deployment_and_waits_until_stable(sandbox):
    before = _service(sandbox, "backend")["deployments"][0]["id"]
    progress = []

    result = ecs.force_redeploy(sandbox.session, sandbox.settings, "backend", poll_s=0, on_progress=progress.append)

    after = _service(sandbox, "backend")["deployments"][0]["id"]
    assert list(result["service"]) == [config.get_service_name("backend", "local")]
    assert result.loc[0, "previous_deployment"] == before
    assert result.loc[0, "new_deployment"] == after != before
    assert (result.loc[0, "running"], result.loc[0, "desired"]) == (1, 1)
    assert progress[-1].endswith("1/1 stable")


def test_force_redeploy__all_redeploys_every_service_of_the_cluster(sandbox):
    before = {s: _service(sandbox, s)["deployments"][0]["id"] for s in config.SERVICES}

    result = ecs.force_redeploy(sandbox.session, sandbox.settings, "all", poll_s=0)

    assert sorted(result["service"]) == sorted(config.get_service_name(s, "local") for s in config.SERVICES)
    for service in config.SERVICES:
        assert _service(sandbox, service)["deployments"][0]["id"] != before[service]


def test_wait_until_stable__times_out_naming_the_unsettled_service(empty_sandbox, unsettled_service):
    progress = []

    with pytest.raises(OperationError, match=rf"not stable after 0 s: {unsettled_service} \(running 1/2"):
        ecs.wait_until_stable(empty_sandbox.session, empty_sandbox.settings, [unsettled_service], timeout_s=0.01,
                              poll_s=0.05, on_progress=progress.append)
    assert progress and progress[-1].endswith(f"0/1 stable; waiting for {unsettled_service} (running 1/2, 1 deployment(s))")


def test_rollback__goes_to_previous_revision(sandbox, bad_release):
    result = ecs.rollback_service(sandbox.session, sandbox.settings, "mlflow", dry_run=False, poll_s=0)

    row = result.iloc[0]
    assert (row.from_revision, row.to_revision, row.applied) == (bad_release["bad"], bad_release["previous"], True)
    assert row.to_image == bad_release["previous_image"]
    assert _service(sandbox, "mlflow")["taskDefinition"].endswith(f"{bad_release['family']}:{bad_release['previous']}")


def test_rollback__dry_run_names_the_change_and_changes_nothing(sandbox, bad_release):
    before = _service(sandbox, "mlflow")

    result = ecs.rollback_service(sandbox.session, sandbox.settings, "mlflow")

    assert result.to_dict("records") == [{
        "service": bad_release["family"], "from_revision": bad_release["bad"], "to_revision": bad_release["previous"],
        "from_image": bad_release["bad_image"], "to_image": bad_release["previous_image"], "applied": False,
    }]
    after = _service(sandbox, "mlflow")
    assert after["taskDefinition"] == before["taskDefinition"]
    assert after["deployments"] == before["deployments"]


def test_rollback__to_a_named_revision(sandbox, bad_release):
    result = ecs.rollback_service(sandbox.session, sandbox.settings, "mlflow", revision=1)

    assert (result.loc[0, "from_revision"], result.loc[0, "to_revision"]) == (bad_release["bad"], 1)
    assert result.loc[0, "to_image"].endswith(":v1.0.0")


def test_rollback__refuses_the_revision_already_running(sandbox):
    current = _latest_active_revision(sandbox, config.get_service_name("backend", "local"))

    with pytest.raises(ParameterError, match=f"already runs revision {current}") as caught:
        ecs.rollback_service(sandbox.session, sandbox.settings, "backend", revision=current)
    assert caught.value.name == "revision"


@pytest.mark.parametrize("revision", [0, -1, "2", True], ids=["zero", "negative", "text", "bool"])
def test_rollback__bad_revision_is_refused_before_any_aws_call(sandbox, untouchable_session, revision):
    with pytest.raises(ParameterError, match="parameter 'revision'"):
        ecs.rollback_service(untouchable_session, sandbox.settings, "backend", revision=revision)
    untouchable_session.client.assert_not_called()


def test_task_definition_revisions__lists_active_revisions_with_the_current_one(sandbox):
    revisions = ecs.task_definition_revisions(sandbox.session, sandbox.settings, "strategy-service")

    latest = _latest_active_revision(sandbox, config.get_service_name("strategy-service", "local"))
    assert list(revisions["revision"]) == list(range(latest, 0, -1))
    assert list(revisions["current"]) == [True] + [False] * (latest - 1)
    # Revision 1 is the compute stack's planned task definition (image :latest); the rehearsal data's follow it.
    assert revisions.loc[revisions["revision"] == 1, "image"].item().endswith("tradai/strategy-service:latest")
    assert revisions.loc[revisions["revision"] == 2, "image"].item().endswith("tradai/strategy-service:v1.1.0")


def test_asg_status__shows_the_host_and_whether_it_runs_the_current_template(sandbox):
    status = ecs.asg_status(sandbox.session, sandbox.settings)

    name = config.get_consolidated_name("local")
    reservations = sandbox.session.client("ec2").describe_instances(Filters=[
        {"Name": "tag:Name", "Values": [name]}, {"Name": "instance-state-name", "Values": ["running"]}])["Reservations"]
    assert list(status["instance"]) == [i["InstanceId"] for r in reservations for i in r["Instances"]]
    row = status.iloc[0]
    assert (row.group, row.desired, row.launch_template, row.lifecycle_state) == (name, 1, name, "InService")
    assert (row.template_version, row.instance_template_version, row.up_to_date) == ("1", "1", True)


# moto 5.2 does not implement instance refresh (start/describe_instance_refreshes): these tests use botocore's
# Stubber, which checks every request against the real Auto Scaling service model.
def _refresh(status: str, percent: int, to_update: int, reason: str = "") -> dict:
    refresh = {"InstanceRefreshId": "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b", "AutoScalingGroupName":
               config.get_consolidated_name("local"), "Status": status, "PercentageComplete": percent,
               "InstancesToUpdate": to_update, "StartTime": datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)}
    if reason:
        refresh["StatusReason"] = reason
    return {"InstanceRefreshes": [refresh]}


def _expect_start(stubber) -> None:
    stubber.add_response(
        "start_instance_refresh", {"InstanceRefreshId": "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"},
        {"AutoScalingGroupName": config.get_consolidated_name("local"),
         "Preferences": {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200}},
    )


def _expect_describe(stubber, response: dict) -> None:
    stubber.add_response("describe_instance_refreshes", response, {
        "AutoScalingGroupName": config.get_consolidated_name("local"),
        "InstanceRefreshIds": ["08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"],
    })


def test_refresh_instances__launches_before_terminating_and_follows_to_success(sandbox, stubbed, with_stubs):
    client, stubber = stubbed("autoscaling")
    _expect_start(stubber)
    for response in (_refresh("Pending", 0, 1), _refresh("InProgress", 50, 1), _refresh("Successful", 100, 0)):
        _expect_describe(stubber, response)
    progress = []

    result = ecs.refresh_instances(with_stubs({"autoscaling": client}), sandbox.settings, poll_s=0,
                                   on_progress=progress.append)

    assert result.to_dict("records") == [{
        "group": config.get_consolidated_name("local"), "refresh_id": "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b",
        "status": "Successful", "percent_complete": 100, "instances_to_update": 0, "status_reason": "",
    }]
    assert [line.split(": ", 1)[-1] for line in progress[1:]] == [
        "Pending 0% (1 instance(s) to update)", "InProgress 50% (1 instance(s) to update)",
        "Successful 100% (0 instance(s) to update)"]


def test_follow_instance_refresh__a_failed_refresh_raises_with_its_reason(sandbox, stubbed, with_stubs):
    client, stubber = stubbed("autoscaling")
    _expect_describe(stubber, _refresh("Failed", 0, 1, "Instance failed to launch: InsufficientInstanceCapacity"))

    with pytest.raises(OperationError, match="ended Failed: Instance failed to launch: InsufficientInstanceCapacity"):
        ecs.follow_instance_refresh(with_stubs({"autoscaling": client}), sandbox.settings,
                                    "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b", poll_s=0)


def test_follow_instance_refresh__timeout_says_how_to_cancel(sandbox, stubbed, with_stubs):
    client, stubber = stubbed("autoscaling")
    _expect_describe(stubber, _refresh("InProgress", 40, 1))

    with pytest.raises(OperationError, match="still InProgress at 40%.*cancel-instance-refresh"):
        ecs.follow_instance_refresh(with_stubs({"autoscaling": client}), sandbox.settings,
                                    "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b", timeout_s=0, poll_s=1)


def test_start_instance_refresh__refuses_where_there_is_no_consolidated_host(untouchable_session):
    from tradai_nb.settings import load_settings

    with pytest.raises(ParameterError, match="ECS Fargate"):
        ecs.start_instance_refresh(untouchable_session, load_settings("prod"), confirm="prod")
    untouchable_session.client.assert_not_called()


def test_check_parameters__unknown_action_names_the_choices(sandbox):
    with pytest.raises(ParameterError, match="'restart-everything' is not one of status, force-redeploy") as caught:
        ecs.check_parameters(sandbox.settings, action="restart-everything", service="all", confirm="", timeout_s=60)
    assert caught.value.name == "action"


def test_run_action__status_changes_nothing_and_says_so(sandbox):
    before = {s: _service(sandbox, s)["deployments"][0]["id"] for s in config.SERVICES}

    shown = ecs.run_action(sandbox.session, sandbox.settings, action="status")

    assert shown == "action 'status': nothing was changed"
    assert {s: _service(sandbox, s)["deployments"][0]["id"] for s in config.SERVICES} == before


def test_run_action__force_redeploy_shows_the_redeployment_of_the_named_service(sandbox):
    before = {s: _service(sandbox, s)["deployments"][0]["id"] for s in config.SERVICES}

    shown = ecs.run_action(sandbox.session, sandbox.settings, action="force-redeploy", service="data-collection",
                           timeout_s=60, on_progress=None)

    assert list(shown.columns) == ecs.REDEPLOY_COLUMNS
    assert list(shown["service"]) == [config.get_service_name("data-collection", "local")]
    assert shown.loc[0, "previous_deployment"] == before["data-collection"] != shown.loc[0, "new_deployment"]
    untouched = [s for s in config.SERVICES if s != "data-collection"]
    assert {s: _service(sandbox, s)["deployments"][0]["id"] for s in untouched} == {s: before[s] for s in untouched}


@pytest.mark.parametrize("action", ["restart-everything", "Status", "", None], ids=repr)
def test_run_action__an_unknown_action_is_refused_naming_the_choices_before_any_aws_call(action, untouchable_session):
    with pytest.raises(ParameterError, match="parameter 'action': .* is not one of status, force-redeploy, "
                                             "instance-refresh") as caught:
        ecs.run_action(untouchable_session, load_settings("local"), action=action)

    assert caught.value.name == "action"
    untouchable_session.client.assert_not_called()


def test_run_action__instance_refresh_is_refused_where_there_is_no_consolidated_host(untouchable_session):
    with pytest.raises(ParameterError, match="ECS Fargate"):
        ecs.run_action(untouchable_session, load_settings("prod"), action="instance-refresh", confirm="prod")
    untouchable_session.client.assert_not_called()


def test_host_status__the_consolidated_group_where_there_is_a_host(sandbox):
    shown = ecs.host_status(sandbox.session, sandbox.settings)

    assert list(shown.columns) == ecs.ASG_COLUMNS
    assert list(shown["group"]) == [config.get_consolidated_name("local")]


def test_host_status__prod_says_it_has_no_host_without_asking_aws(untouchable_session):
    shown = ecs.host_status(untouchable_session, load_settings("prod"))

    assert shown == ecs.no_host_message(load_settings("prod")) and "Fargate" in shown
    untouchable_session.client.assert_not_called()
