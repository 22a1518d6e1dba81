"""The compute realized from the local plan: every planned role, instance profile, Lambda function, state machine,
ECS cluster and task definition, launch template and Auto Scaling group exists in the sandbox under its planned name
with its key planned inputs, and what the rehearsal checkpoints say of it (ids, ARNs, exports) resolves there."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("stack", ["foundation", "compute"])
def test_realized__every_planned_role_exists_with_its_trust_principal(sandbox, rehearsal, stack):
    iam = sandbox.session.client("iam")
    for resource in rehearsal.of(stack, "aws:iam/role:Role"):
        role = iam.get_role(RoleName=resource["inputs"]["name"])["Role"]
        planned = json.loads(resource["inputs"]["assumeRolePolicy"])["Statement"][0]["Principal"]["Service"]

        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] in (planned, planned[0])
        assert resource["id"] == resource["outputs"]["name"] == role["RoleName"]
        assert resource["outputs"]["arn"] == role["Arn"]


@pytest.mark.parametrize("stack", ["foundation", "compute"])
def test_realized__every_planned_role_policy_is_on_its_role_with_its_document(sandbox, rehearsal, stack):
    iam = sandbox.session.client("iam")
    for resource in rehearsal.of(stack, "aws:iam/rolePolicy:RolePolicy"):
        role, name = resource["id"].split(":", 1)
        found = iam.get_role_policy(RoleName=role, PolicyName=name)

        # The role input names the role by its id, which is its name: the checkpoint carries the sandbox's.
        assert resource["inputs"]["role"] == role
        assert found["PolicyDocument"] == json.loads(resource["inputs"]["policy"])


@pytest.mark.parametrize("stack", ["foundation", "compute"])
def test_realized__every_planned_instance_profile_holds_its_role(sandbox, rehearsal, stack):
    iam = sandbox.session.client("iam")
    for resource in rehearsal.of(stack, "aws:iam/instanceProfile:InstanceProfile"):
        profile = iam.get_instance_profile(InstanceProfileName=resource["inputs"]["name"])["InstanceProfile"]

        assert [r["RoleName"] for r in profile["Roles"]] == [resource["inputs"]["role"]]
        assert resource["outputs"]["arn"] == profile["Arn"]
    if stack == "compute":
        assert rehearsal.exports("compute")["instance_profile_name"] == profile["InstanceProfileName"]


def test_realized__every_planned_function_has_its_image_memory_timeout_and_role(sandbox, rehearsal):
    client = sandbox.session.client("lambda")
    functions = rehearsal.of("compute", "aws:lambda/function:Function")
    for resource in functions:
        inputs = resource["inputs"]
        found = client.get_function(FunctionName=inputs["name"])
        configuration = found["Configuration"]

        assert found["Code"]["ImageUri"] == inputs["imageUri"]
        assert configuration["PackageType"] == "Image"
        assert (configuration["MemorySize"], configuration["Timeout"]) == (inputs["memorySize"], inputs["timeout"])
        assert configuration["Role"] == inputs["role"]
        assert configuration["Environment"]["Variables"] == inputs["environment"]["variables"]
        assert resource["id"] == inputs["name"] and resource["outputs"]["arn"] == configuration["FunctionArn"]
    exports = rehearsal.exports("compute")
    assert sorted(exports["lambda_function_arns"].values()) == sorted(r["outputs"]["arn"] for r in functions)
    assert len(functions) == 10


def test_realized__the_state_machine_runs_the_sandbox_functions_and_task_definition(sandbox, rehearsal):
    sfn = sandbox.session.client("stepfunctions")
    [resource] = rehearsal.of("compute", "aws:sfn/stateMachine:StateMachine")
    described = sfn.describe_state_machine(stateMachineArn=resource["id"])
    states = json.loads(described["definition"])["States"]
    functions = {
        r["urn"].rsplit("::", 1)[1]: r["outputs"]["arn"]
        for r in rehearsal.of("compute", "aws:lambda/function:Function")
    }
    [task_definition] = rehearsal.of("compute", "aws:ecs/taskDefinition:TaskDefinition")
    lambda_client = sandbox.session.client("lambda")

    assert described["name"] == resource["inputs"]["name"] and described["roleArn"] == resource["inputs"]["roleArn"]
    assert described["definition"] == resource["inputs"]["definition"]
    assert states["ProcessResults"]["Parameters"]["FunctionName"] == functions["backtest-results-processor"]
    assert states["PromoteModel"]["Parameters"]["FunctionName"] == functions["model-promoter"]
    for state in ("ProcessResults", "PromoteModel"):
        assert lambda_client.get_function(FunctionName=states[state]["Parameters"]["FunctionName"])
    assert states["RunBacktest"]["Parameters"]["TaskDefinition"] == task_definition["outputs"]["arn"]
    assert rehearsal.exports("compute")["state_machine_arn"] == described["stateMachineArn"] == resource["id"]


def test_realized__the_planned_cluster_with_its_capacity_providers_and_task_definition(sandbox, rehearsal):
    ecs = sandbox.session.client("ecs")
    [cluster] = rehearsal.of("compute", "aws:ecs/cluster:Cluster")
    [providers] = rehearsal.of("compute", "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
    [task_definition] = rehearsal.of("compute", "aws:ecs/taskDefinition:TaskDefinition")
    [described] = ecs.describe_clusters(clusters=[cluster["id"]])["clusters"]
    registered = ecs.describe_task_definition(taskDefinition=task_definition["outputs"]["arn"])["taskDefinition"]
    exports = rehearsal.exports("compute")

    assert described["clusterName"] == cluster["inputs"]["name"] == exports["ecs_cluster_name"]
    assert described["clusterArn"] == cluster["id"] == exports["ecs_cluster_arn"]
    assert sorted(described["capacityProviders"]) == sorted(providers["inputs"]["capacityProviders"])
    assert registered["family"] == task_definition["inputs"]["family"] == task_definition["id"]
    assert [c["image"] for c in registered["containerDefinitions"]] == [
        c["image"] for c in json.loads(task_definition["inputs"]["containerDefinitions"])
    ]
    assert (registered["cpu"], registered["memory"]) == (
        task_definition["inputs"]["cpu"],
        task_definition["inputs"]["memory"],
    )
    assert registered["executionRoleArn"] == exports["ecs_execution_role_arn"]
    assert registered["taskRoleArn"] == exports["ecs_task_role_arn"]


@pytest.mark.parametrize("stack", ["foundation", "compute"])
def test_realized__every_planned_group_launches_its_named_instance_from_its_template(sandbox, rehearsal, stack):
    ec2 = sandbox.session.client("ec2")
    autoscaling = sandbox.session.client("autoscaling")
    [template] = rehearsal.of(stack, "aws:ec2/launchTemplate:LaunchTemplate")
    [group] = rehearsal.of(stack, "aws:autoscaling/group:Group")
    [described] = ec2.describe_launch_templates(LaunchTemplateIds=[template["id"]])["LaunchTemplates"]
    [found] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group["id"]])["AutoScalingGroups"]
    name = group["inputs"]["name"]
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:Name", "Values": [name]}, {"Name": "instance-state-name", "Values": ["running"]}]
    )["Reservations"]
    instances = [i for r in reservations for i in r["Instances"]]

    assert described["LaunchTemplateName"] == template["inputs"]["name"]
    assert group["inputs"]["launchTemplate"]["id"] == template["id"] == found["LaunchTemplate"]["LaunchTemplateId"]
    assert found["AutoScalingGroupARN"] == group["outputs"]["arn"]
    assert (found["MinSize"], found["MaxSize"]) == (group["inputs"]["minSize"], group["inputs"]["maxSize"])
    assert [i["InstanceId"] for i in found["Instances"]] == [i["InstanceId"] for i in instances]
    assert len(instances) == 1 and instances[0]["InstanceType"] == template["inputs"]["instanceType"]
    if stack == "compute":
        assert rehearsal.exports("compute")["consolidated_asg_name"] == name
