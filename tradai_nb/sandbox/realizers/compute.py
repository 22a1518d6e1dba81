"""The compute of the foundation and compute stacks, as planned: the ECS cluster, its capacity providers and the
task definition, the Lambda functions, the backtest state machine, and the launch templates and Auto Scaling groups
(the NAT instance's and the consolidated host's; each group launches its instance in the sandbox, Name tag
propagated, as on the real estate)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, ec2_arn, first, found_or_created, missing, tags

# The AMI the planned launch templates get in the sandbox, from the SSM parameter the compute stack reads (moto serves
# it): their planned image ids are mock values.
from tradai_nb.stacks.compute.ec2_consolidated import AMI_PARAMETER


def _key_value(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": t["Key"], "value": t["Value"]} for t in tags(inputs)]


def _cluster(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ecs = sandbox.client("ecs")
    name = inputs["name"]
    action, cluster = found_or_created(
        lambda: first(ecs.describe_clusters(clusters=[name])["clusters"], lambda c: c["status"] == "ACTIVE"),
        lambda: ecs.create_cluster(
            clusterName=name, settings=list(inputs.get("settings") or []), tags=_key_value(inputs)
        )["cluster"],
    )
    arn = cluster["clusterArn"]
    return action, {"id": arn, "arn": arn, "name": name}


def _cluster_capacity_providers(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ecs = sandbox.client("ecs")
    name = inputs["clusterName"]
    [cluster] = ecs.describe_clusters(clusters=[name])["clusters"]
    providers = list(inputs["capacityProviders"])
    action = "exists" if sorted(cluster.get("capacityProviders") or []) == sorted(providers) else "created"
    if action == "created":
        ecs.put_cluster_capacity_providers(
            cluster=name,
            capacityProviders=providers,
            defaultCapacityProviderStrategy=[
                {"capacityProvider": s["capacityProvider"], "weight": int(s["weight"]), "base": int(s.get("base", 0))}
                for s in inputs.get("defaultCapacityProviderStrategies") or []
            ],
        )
    return action, {"id": name, "clusterName": name}


def _images(definitions: list[dict[str, Any]]) -> list[str]:
    return [d.get("image", "") for d in definitions]


def _task_definition(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The planned revision of the family: the first whose images, cpu and memory are the planned ones (the rehearsal
    data registers later revisions on top of it), else a new one."""
    ecs = sandbox.client("ecs")
    family = inputs["family"]
    containers = json.loads(inputs["containerDefinitions"])
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="ASC")["taskDefinitionArns"]
    for arn in arns:
        found = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        same = (found.get("cpu"), found.get("memory")) == (inputs.get("cpu"), inputs.get("memory"))
        if found["family"] == family and same and _images(found["containerDefinitions"]) == _images(containers):
            return "exists", {"id": family, "arn": arn, "family": family, "revision": found["revision"]}
    extra = {k: inputs[k] for k in ("cpu", "memory", "networkMode", "executionRoleArn", "taskRoleArn") if k in inputs}
    if inputs.get("runtimePlatform"):
        extra["runtimePlatform"] = dict(inputs["runtimePlatform"])
    found = ecs.register_task_definition(
        family=family,
        containerDefinitions=containers,
        requiresCompatibilities=list(inputs.get("requiresCompatibilities") or []),
        tags=_key_value(inputs),
        **extra,
    )["taskDefinition"]
    arn = found["taskDefinitionArn"]
    return "created", {"id": family, "arn": arn, "family": family, "revision": found["revision"]}


def _function(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    client = sandbox.client("lambda")
    name = inputs["name"]
    # moto keeps ImageUri as given (it validates only when MOTO_LAMBDA_STUB_ECR=false, and then reads the repository
    # name as the last path segment, which misses tradai/<name>).
    action, found = found_or_created(
        lambda: client.get_function(FunctionName=name)["Configuration"],
        lambda: client.create_function(
            FunctionName=name,
            PackageType=inputs.get("packageType", "Image"),
            Code={"ImageUri": inputs["imageUri"]},
            Role=inputs["role"],
            MemorySize=int(inputs["memorySize"]),
            Timeout=int(inputs["timeout"]),
            Architectures=list(inputs.get("architectures") or ["x86_64"]),
            Environment={"Variables": dict((inputs.get("environment") or {}).get("variables") or {})},
            Tags={t["Key"]: t["Value"] for t in tags(inputs)},
        ),
        "ResourceNotFoundException",
    )
    arn = found["FunctionArn"]
    region = sandbox.settings.aws_region
    invoke = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
    return action, {"id": name, "arn": arn, "name": name, "invokeArn": invoke}


def _state_machine(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    sfn = sandbox.client("stepfunctions")
    name = inputs["name"]

    def find() -> str | None:
        machines = [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
        found = first(machines, lambda m: m["name"] == name)
        return found["stateMachineArn"] if found else None

    def create() -> str:
        logging = inputs.get("loggingConfiguration") or {}
        extra: dict[str, Any] = {}
        if logging:
            extra["loggingConfiguration"] = {
                "level": logging.get("level", "OFF"),
                "includeExecutionData": bool(logging.get("includeExecutionData")),
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": logging["logDestination"]}}],
            }
        return str(
            sfn.create_state_machine(
                name=name,
                definition=inputs["definition"],
                roleArn=inputs["roleArn"],
                type=inputs.get("type", "STANDARD"),
                tags=_key_value(inputs),
                **extra,
            )["stateMachineArn"]
        )

    action, arn = found_or_created(find, create)
    return action, {"id": arn, "arn": arn, "name": name}


def _sandbox_image(sandbox: Sandbox, image_id: str) -> str:
    ec2 = sandbox.client("ec2")
    try:
        if ec2.describe_images(ImageIds=[image_id])["Images"]:
            return image_id
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", "") and not missing(
            exc, "InvalidAMIID.Malformed"
        ):
            raise
    return sandbox.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]


def _template_data(sandbox: Sandbox, inputs: Mapping[str, Any]) -> dict[str, Any]:
    metadata = inputs.get("metadataOptions") or {}
    data: dict[str, Any] = {
        "ImageId": _sandbox_image(sandbox, inputs["imageId"]),
        "InstanceType": inputs["instanceType"],
        "MetadataOptions": {
            "HttpTokens": metadata.get("httpTokens", "optional"),
            "HttpEndpoint": metadata.get("httpEndpoint", "enabled"),
            "HttpPutResponseHopLimit": int(metadata.get("httpPutResponseHopLimit", 1)),
        },
        "TagSpecifications": [
            {"ResourceType": spec["resourceType"], "Tags": tags({"tags": spec["tags"]})}
            for spec in inputs.get("tagSpecifications") or []
        ],
    }
    profile = inputs.get("iamInstanceProfile") or {}
    if profile:
        data["IamInstanceProfile"] = {"Arn": profile["arn"]} if "arn" in profile else {"Name": profile["name"]}
    if inputs.get("userData"):
        data["UserData"] = inputs["userData"]
    if inputs.get("vpcSecurityGroupIds"):
        data["SecurityGroupIds"] = list(inputs["vpcSecurityGroupIds"])
    for interface in inputs.get("networkInterfaces") or []:
        data.setdefault("NetworkInterfaces", []).append(
            {
                "DeviceIndex": int(interface.get("deviceIndex", 0)),
                "AssociatePublicIpAddress": str(interface.get("associatePublicIpAddress")).lower() == "true",
                "DeleteOnTermination": str(interface.get("deleteOnTermination")).lower() == "true",
                "Groups": list(interface.get("securityGroups") or []),
            }
        )
    return data


def _launch_template(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ec2 = sandbox.client("ec2")
    name = inputs["name"]
    try:
        [found] = ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"]
        action = "exists"
    except ClientError as exc:
        if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
            raise
        found = ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData=_template_data(sandbox, inputs),
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags(inputs)}],
        )["LaunchTemplate"]
        action = "created"
    template_id = found["LaunchTemplateId"]
    return action, {
        "id": template_id,
        "arn": ec2_arn(sandbox, f"launch-template/{template_id}"),
        "name": name,
        "latestVersion": found["LatestVersionNumber"],
    }


def _group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    autoscaling = sandbox.client("autoscaling")
    name = inputs["name"]
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    action = "exists" if found else "created"
    if not found:
        planned_tags = {t["key"]: t["value"] for t in inputs.get("tags") or []}
        extra: dict[str, Any] = {}
        if inputs.get("targetGroupArns"):
            extra["TargetGroupARNs"] = list(inputs["targetGroupArns"])
        # The group launches its instance itself and the tags (Name among them) propagate to it.
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={
                "LaunchTemplateId": inputs["launchTemplate"]["id"],
                "Version": inputs["launchTemplate"].get("version", "$Latest"),
            },
            MinSize=int(inputs["minSize"]),
            MaxSize=int(inputs["maxSize"]),
            DesiredCapacity=int(inputs.get("desiredCapacity", inputs["minSize"])),
            HealthCheckType=inputs.get("healthCheckType", "EC2"),
            HealthCheckGracePeriod=int(inputs.get("healthCheckGracePeriod", 300)),
            VPCZoneIdentifier=",".join(inputs["vpcZoneIdentifiers"]),
            Tags=[
                {
                    "Key": t["Key"],
                    "Value": t["Value"],
                    "PropagateAtLaunch": True,
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                }
                for t in tags({"tags": planned_tags})
            ],
            **extra,
        )
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return action, {"id": name, "arn": found[0]["AutoScalingGroupARN"], "name": name}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:ecs/cluster:Cluster": ("ecs cluster", _cluster),
    "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": (
        "ecs capacity providers",
        _cluster_capacity_providers,
    ),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs task definition", _task_definition),
    "aws:lambda/function:Function": ("lambda function", _function),
    "aws:sfn/stateMachine:StateMachine": ("state machine", _state_machine),
    "aws:ec2/launchTemplate:LaunchTemplate": ("launch template", _launch_template),
    "aws:autoscaling/group:Group": ("auto scaling group", _group),
}
