"""The notifications key and its alias, the SNS topics and their subscriptions, the SQS queues and the MLflow
database (in the planned data subnets and database security group), as the foundation and compute stacks plan them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, first, found_or_created, missing, tags


def _tag_map(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags(inputs)}


def _key(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A KMS key has no name: the one of the same description and tags is the planned key."""
    kms = sandbox.client("kms")
    wanted = _tag_map(inputs)
    found = None
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if metadata.get("KeyManager") != "CUSTOMER" or metadata.get("KeyState") != "Enabled":
                continue
            if metadata.get("Description", "") != inputs.get("description", ""):
                continue
            held = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])}
            if held == wanted:
                found = metadata
                break
        if found:
            break
    action = "exists"
    if found is None:
        arguments: dict[str, Any] = {
            "Description": inputs.get("description", ""),
            "KeyUsage": inputs.get("keyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": inputs.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"),
            "Tags": [{"TagKey": k, "TagValue": v} for k, v in wanted.items()],
        }
        if inputs.get("policy"):
            arguments["Policy"] = inputs["policy"]
        found = kms.create_key(**arguments)["KeyMetadata"]
        if inputs.get("enableKeyRotation"):
            kms.enable_key_rotation(KeyId=found["KeyId"])
        action = "created"
    return action, {"id": found["KeyId"], "keyId": found["KeyId"], "arn": found["Arn"]}


def _alias(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    kms = sandbox.client("kms")
    name = inputs["name"]

    def find() -> dict[str, Any] | None:
        aliases = [a for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]]
        return first(aliases, lambda a: a["AliasName"] == name)

    def create() -> dict[str, Any]:
        kms.create_alias(AliasName=name, TargetKeyId=inputs["targetKeyId"])
        return next(a for a in kms.list_aliases(KeyId=inputs["targetKeyId"])["Aliases"] if a["AliasName"] == name)

    action, found = found_or_created(find, create)
    return action, {"id": name, "name": name, "arn": found["AliasArn"]}


_TOPIC_ATTRIBUTES = {
    "kmsMasterKeyId": "KmsMasterKeyId",
    "displayName": "DisplayName",
    "policy": "Policy",
    "deliveryPolicy": "DeliveryPolicy",
    "fifoTopic": "FifoTopic",
}


def _topic(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    sns = sandbox.client("sns")
    name = inputs["name"]

    def find() -> str | None:
        arns = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
        return first(arns, lambda arn: arn.rsplit(":", 1)[1] == name)

    def create() -> str:
        attributes = {api: _attribute(inputs[key]) for key, api in _TOPIC_ATTRIBUTES.items() if key in inputs}
        return str(sns.create_topic(Name=name, Attributes=attributes, Tags=tags(inputs))["TopicArn"])

    action, arn = found_or_created(find, create)
    return action, {"id": arn, "arn": arn, "name": name}


def _subscription(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    sns = sandbox.client("sns")
    topic, protocol, endpoint = inputs["topic"], inputs["protocol"], inputs["endpoint"]

    def find() -> str | None:
        held = [
            s
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
            for s in page["Subscriptions"]
        ]
        found = first(held, lambda s: s["Protocol"] == protocol and s["Endpoint"] == endpoint)
        return found["SubscriptionArn"] if found else None

    action, arn = found_or_created(
        find,
        lambda: str(
            sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True)[
                "SubscriptionArn"
            ]
        ),
    )
    return action, {"id": arn, "arn": arn}


_QUEUE_ATTRIBUTES = {
    "delaySeconds": "DelaySeconds",
    "maxMessageSize": "MaximumMessageSize",
    "messageRetentionSeconds": "MessageRetentionPeriod",
    "receiveWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "visibilityTimeoutSeconds": "VisibilityTimeout",
    "redrivePolicy": "RedrivePolicy",
    "redriveAllowPolicy": "RedriveAllowPolicy",
    "policy": "Policy",
    "sqsManagedSseEnabled": "SqsManagedSseEnabled",
    "kmsMasterKeyId": "KmsMasterKeyId",
    "fifoQueue": "FifoQueue",
    "contentBasedDeduplication": "ContentBasedDeduplication",
}


def _attribute(value: Any) -> str:
    """An attribute's value as the SQS and SNS APIs take it: booleans lowercase, numbers whole."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _queue(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    sqs = sandbox.client("sqs")
    name = inputs["name"]
    attributes = {api: _attribute(inputs[key]) for key, api in _QUEUE_ATTRIBUTES.items() if key in inputs}
    action, url = found_or_created(
        lambda: str(sqs.get_queue_url(QueueName=name)["QueueUrl"]),
        lambda: str(sqs.create_queue(QueueName=name, Attributes=attributes, tags=_tag_map(inputs))["QueueUrl"]),
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    )
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return action, {"id": url, "url": url, "arn": arn, "name": name}


def _db_subnet_group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    rds = sandbox.client("rds")
    name = inputs["name"]
    try:
        [found] = rds.describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"]
        action = "exists"
    except ClientError as exc:
        if not missing(exc, "DBSubnetGroupNotFoundFault"):
            raise
        found = rds.create_db_subnet_group(
            DBSubnetGroupName=name,
            DBSubnetGroupDescription=inputs.get("description") or "Managed by Pulumi",
            SubnetIds=list(inputs["subnetIds"]),
            Tags=tags(inputs),
        )["DBSubnetGroup"]
        action = "created"
    return action, {"id": name, "name": name, "arn": found["DBSubnetGroupArn"]}


# Planned instance input -> create_db_instance argument, where the value passes as is (numbers made whole).
_INSTANCE_ARGUMENTS = {
    "instanceClass": "DBInstanceClass",
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "allocatedStorage": "AllocatedStorage",
    "maxAllocatedStorage": "MaxAllocatedStorage",
    "dbName": "DBName",
    "username": "MasterUsername",
    "manageMasterUserPassword": "ManageMasterUserPassword",
    "dbSubnetGroupName": "DBSubnetGroupName",
    "multiAz": "MultiAZ",
    "storageEncrypted": "StorageEncrypted",
    "storageType": "StorageType",
    "backupRetentionPeriod": "BackupRetentionPeriod",
    "backupWindow": "PreferredBackupWindow",
    "maintenanceWindow": "PreferredMaintenanceWindow",
    "publiclyAccessible": "PubliclyAccessible",
    "deletionProtection": "DeletionProtection",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "copyTagsToSnapshot": "CopyTagsToSnapshot",
    "port": "Port",
}


def _db_instance(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The database in its planned security groups. Its master password is RDS's (manageMasterUserPassword) or,
    where the plan gives none, random and never shown: nothing connects to the sandbox's database."""
    rds = sandbox.client("rds")
    identifier = inputs["identifier"]
    try:
        [found] = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
        action = "exists"
    except ClientError as exc:
        if not missing(exc, "DBInstanceNotFound"):
            raise
        arguments: dict[str, Any] = {
            api: int(inputs[key]) if isinstance(inputs[key], float) else inputs[key]
            for key, api in _INSTANCE_ARGUMENTS.items()
            if key in inputs
        }
        if not inputs.get("manageMasterUserPassword"):
            arguments["MasterUserPassword"] = secrets.token_urlsafe(24)
        found = rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            VpcSecurityGroupIds=list(inputs.get("vpcSecurityGroupIds") or []),
            Tags=tags(inputs),
            **arguments,
        )["DBInstance"]
        action = "created"
    endpoint = found.get("Endpoint") or {}
    outputs = {
        "id": found["DbiResourceId"],
        "resourceId": found["DbiResourceId"],
        "arn": found["DBInstanceArn"],
        "identifier": identifier,
    }
    secret = found.get("MasterUserSecret") or {}
    if secret.get("SecretArn"):
        outputs["masterUserSecrets"] = [{"secretArn": secret["SecretArn"]}]
    if endpoint.get("Address"):
        outputs["address"] = endpoint["Address"]
        outputs["endpoint"] = f"{endpoint['Address']}:{endpoint['Port']}"
    return action, outputs


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:kms/key:Key": ("kms key", _key),
    "aws:kms/alias:Alias": ("kms alias", _alias),
    "aws:sns/topic:Topic": ("sns topic", _topic),
    "aws:sns/topicSubscription:TopicSubscription": ("sns subscription", _subscription),
    "aws:sqs/queue:Queue": ("sqs queue", _queue),
    "aws:rds/subnetGroup:SubnetGroup": ("rds subnet group", _db_subnet_group),
    "aws:rds/instance:Instance": ("rds instance", _db_instance),
}
