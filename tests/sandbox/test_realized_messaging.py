"""Messaging, data and monitoring made from the local plan: every planned key, alias, topic, subscription, queue,
database, log group, metric alarm, dashboard and EventBridge schedule exists in the sandbox under its planned name
with its planned inputs, and the rehearsal state's ids, ARNs and exports name what the sandbox holds."""

from __future__ import annotations

import json
import re

import pytest

from tradai_nb.sandbox.realizers import messaging, monitoring

PLAN_ID = re.compile(r"[0-9a-f]{17}")


def _tags(pairs, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {p[key]: p[value] for p in pairs}


@pytest.mark.parametrize("resource_type", sorted({*messaging.REALIZERS, *monitoring.REALIZERS}))
def test_realized__the_rehearsal_state_carries_the_sandbox_s_ids_of_the_kind(rehearsal, resource_type):
    resources = rehearsal.resources(resource_type)

    assert resources, resource_type
    # The plan's mock ids are 17 hex digits; the sandbox's are names, ARNs, URLs, key ids.
    assert [r["urn"] for r in resources if PLAN_ID.fullmatch(r["id"])] == []


def test_realized__queues_have_their_planned_retention_visibility_and_redrive(sandbox, rehearsal):
    sqs = sandbox.session.client("sqs")
    queues = rehearsal.resources("aws:sqs/queue:Queue")
    for queue in queues:
        inputs, outputs = queue["inputs"], queue["outputs"]
        url = sqs.get_queue_url(QueueName=inputs["name"])["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

        assert queue["id"] == outputs["url"] == url
        assert outputs["arn"] == attributes["QueueArn"]
        assert int(attributes["MessageRetentionPeriod"]) == inputs["messageRetentionSeconds"]
        assert int(attributes["VisibilityTimeout"]) == inputs.get("visibilityTimeoutSeconds", 30)
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert sqs.list_queue_tags(QueueUrl=url)["Tags"]["Name"] == inputs["name"]
    [main] = [q for q in queues if "redrivePolicy" in q["inputs"]]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=main["id"], AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    [dead_letter] = [q for q in queues if q is not main]
    assert redrive == json.loads(main["inputs"]["redrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead_letter["outputs"]["arn"] and redrive["maxReceiveCount"] == 3
    foundation = rehearsal.exports("foundation")
    assert foundation["backtest_queue_url"] == main["id"] and foundation["backtest_queue_arn"] == main["outputs"]["arn"]


def test_realized__topics_are_encrypted_with_the_planned_key_found_by_its_alias(sandbox, rehearsal):
    sns = sandbox.session.client("sns")
    kms = sandbox.session.client("kms")
    [key] = rehearsal.resources("aws:kms/key:Key")
    [alias] = rehearsal.resources("aws:kms/alias:Alias")
    described = kms.describe_key(KeyId=alias["inputs"]["name"])["KeyMetadata"]

    assert (
        described["KeyId"] == key["id"] == alias["inputs"]["targetKeyId"] and described["Arn"] == key["outputs"]["arn"]
    )
    assert described["Description"] == key["inputs"]["description"]
    assert kms.get_key_rotation_status(KeyId=key["id"])["KeyRotationEnabled"] is True
    assert alias["id"] == alias["inputs"]["name"]
    assert alias["outputs"]["arn"] in {a["AliasArn"] for a in kms.list_aliases(KeyId=key["id"])["Aliases"]}
    topics = rehearsal.resources("aws:sns/topic:Topic")
    foundation = rehearsal.exports("foundation")
    assert {foundation["alerts_topic_arn"], foundation["registration_topic_arn"]} == {t["id"] for t in topics}
    for topic in topics:
        attributes = sns.get_topic_attributes(TopicArn=topic["id"])["Attributes"]
        assert topic["id"] == topic["outputs"]["arn"] and topic["id"].endswith(":" + topic["inputs"]["name"])
        assert attributes["KmsMasterKeyId"] == topic["inputs"]["kmsMasterKeyId"] == key["outputs"]["arn"]
        assert _tags(sns.list_tags_for_resource(ResourceArn=topic["id"])["Tags"])["Purpose"] == "rehearsal"


def test_realized__each_planned_subscription_is_the_topic_s_under_its_arn(sandbox, rehearsal):
    sns = sandbox.session.client("sns")
    subscriptions = rehearsal.resources("aws:sns/topicSubscription:TopicSubscription")

    assert {s["inputs"]["protocol"] for s in subscriptions} == {"email", "lambda"}
    for subscription in subscriptions:
        inputs = subscription["inputs"]
        held = sns.list_subscriptions_by_topic(TopicArn=inputs["topic"])["Subscriptions"]
        [found] = [s for s in held if s["SubscriptionArn"] == subscription["id"]]
        assert (found["Protocol"], found["Endpoint"]) == (inputs["protocol"], inputs["endpoint"])
        assert subscription["outputs"]["arn"] == subscription["id"]


def test_realized__the_database_has_its_planned_engine_storage_backups_and_subnet_group(sandbox, rehearsal):
    rds = sandbox.session.client("rds")
    [instance] = rehearsal.resources("aws:rds/instance:Instance")
    [group] = rehearsal.resources("aws:rds/subnetGroup:SubnetGroup")
    inputs = instance["inputs"]
    [db] = rds.describe_db_instances(DBInstanceIdentifier=inputs["identifier"])["DBInstances"]

    assert instance["id"] == db["DbiResourceId"] and instance["outputs"]["arn"] == db["DBInstanceArn"]
    assert (db["Engine"], db["EngineVersion"], db["DBInstanceClass"]) == (
        inputs["engine"],
        inputs["engineVersion"],
        inputs["instanceClass"],
    )
    assert (db["AllocatedStorage"], db["StorageType"], db["StorageEncrypted"], db["MultiAZ"]) == (
        inputs["allocatedStorage"],
        inputs["storageType"],
        True,
        inputs["multiAz"],
    )
    assert (db["BackupRetentionPeriod"], db["PreferredBackupWindow"], db["DBName"], db["MasterUsername"]) == (
        inputs["backupRetentionPeriod"],
        inputs["backupWindow"],
        inputs["dbName"],
        inputs["username"],
    )
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == group["id"] == inputs["dbSubnetGroupName"]
    assert group["outputs"]["arn"] == db["DBSubnetGroup"]["DBSubnetGroupArn"]
    foundation = rehearsal.exports("foundation")
    assert foundation["rds_address"] == db["Endpoint"]["Address"] == instance["outputs"]["address"]
    assert foundation["rds_endpoint"] == f"{db['Endpoint']['Address']}:{db['Endpoint']['Port']}"
    # The master password is RDS's own (manageMasterUserPassword): its secret is the one the stack exports.
    assert inputs["manageMasterUserPassword"] is True
    assert foundation["rds_secret_arn"] == db["MasterUserSecret"]["SecretArn"]
    sandbox.session.client("secretsmanager").describe_secret(SecretId=foundation["rds_secret_arn"])


def test_realized__every_planned_log_group_has_its_retention(sandbox, rehearsal):
    logs = sandbox.session.client("logs")
    groups = rehearsal.resources("aws:cloudwatch/logGroup:LogGroup")
    held = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}

    assert len(groups) == 15
    for group in groups:
        name = group["inputs"]["name"]
        assert group["id"] == name and held[name]["retentionInDays"] == group["inputs"]["retentionInDays"]
        assert group["outputs"]["arn"] == held[name]["arn"].removesuffix(":*")
        assert logs.list_tags_log_group(logGroupName=name)["tags"]["Service"] == group["inputs"]["tags"]["Service"]


def test_realized__metric_alarms_have_their_planned_metric_threshold_and_actions(sandbox, rehearsal):
    cloudwatch = sandbox.session.client("cloudwatch")
    alarms = rehearsal.resources("aws:cloudwatch/metricAlarm:MetricAlarm")
    edge = rehearsal.exports("edge")

    assert sorted(edge["alarm_names"]) == sorted(a["id"] for a in alarms)
    for alarm in alarms:
        inputs = alarm["inputs"]
        [held] = cloudwatch.describe_alarms(AlarmNames=[inputs["name"]])["MetricAlarms"]
        assert alarm["id"] == inputs["name"] and alarm["outputs"]["arn"] == held["AlarmArn"]
        assert (held["Threshold"], held["ComparisonOperator"], held["EvaluationPeriods"]) == (
            inputs["threshold"],
            inputs["comparisonOperator"],
            inputs["evaluationPeriods"],
        )
        assert held["AlarmActions"] == inputs["alarmActions"] and held["OKActions"] == inputs["okActions"]
        assert held.get("TreatMissingData") == inputs["treatMissingData"]
        if "metricQueries" in inputs:
            assert [m["Id"] for m in held["Metrics"]] == [q["id"] for q in inputs["metricQueries"]]
        else:
            assert (held["Namespace"], held["MetricName"]) == (inputs["namespace"], inputs["metricName"])
            assert _tags(held["Dimensions"], "Name", "Value") == inputs["dimensions"]
    [dlq] = [a for a in alarms if a["inputs"].get("namespace") == "AWS/SQS"]
    queues = {q["inputs"]["name"] for q in rehearsal.resources("aws:sqs/queue:Queue")}
    assert dlq["inputs"]["dimensions"]["QueueName"] in queues


def test_realized__the_dashboard_holds_the_planned_body(sandbox, rehearsal):
    cloudwatch = sandbox.session.client("cloudwatch")
    [dashboard] = rehearsal.resources("aws:cloudwatch/dashboard:Dashboard")
    held = cloudwatch.get_dashboard(DashboardName=rehearsal.exports("edge")["dashboard_name"])

    assert dashboard["id"] == held["DashboardName"] == dashboard["inputs"]["dashboardName"]
    assert dashboard["outputs"]["arn"] == held["DashboardArn"]
    assert json.loads(held["DashboardBody"]) == json.loads(dashboard["inputs"]["dashboardBody"])


def test_realized__every_schedule_targets_its_planned_function(sandbox, rehearsal):
    events = sandbox.session.client("events")
    rules = {r["inputs"]["name"]: r for r in rehearsal.resources("aws:cloudwatch/eventRule:EventRule")}
    targets = rehearsal.resources("aws:cloudwatch/eventTarget:EventTarget")

    assert len(rules) == len(targets) == 6
    for name, rule in rules.items():
        described = events.describe_rule(Name=name)
        assert rule["id"] == name and rule["outputs"]["arn"] == described["Arn"]
        assert described["ScheduleExpression"] == rule["inputs"]["scheduleExpression"]
    for target in targets:
        inputs = target["inputs"]
        held = events.list_targets_by_rule(Rule=inputs["rule"])["Targets"]
        assert [t["Arn"] for t in held] == [inputs["arn"]]
        assert target["id"] == f"{inputs['rule']}-{held[0]['Id']}"
