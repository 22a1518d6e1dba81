"""The CloudWatch log groups of every stack, the edge stack's metric alarms and dashboard, and the compute stack's
EventBridge schedules and their targets. The composite alarm is not realized: the sandbox does not serve
PutCompositeAlarm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, first, found_or_created, tags


def _log_group(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    logs = sandbox.client("logs")
    name = inputs["name"]

    def find() -> dict[str, Any] | None:
        return first(
            logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"], lambda g: g["logGroupName"] == name
        )

    def create() -> dict[str, Any]:
        arguments: dict[str, Any] = {"logGroupName": name, "tags": {t["Key"]: t["Value"] for t in tags(inputs)}}
        if inputs.get("kmsKeyId"):
            arguments["kmsKeyId"] = inputs["kmsKeyId"]
        logs.create_log_group(**arguments)
        if inputs.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(inputs["retentionInDays"]))
        created = find()
        assert created is not None
        return created

    action, found = found_or_created(find, create)
    # The provider's ARN is the group's without the trailing :* of describe_log_groups.
    arn = found.get("logGroupArn") or found["arn"].removesuffix(":*")
    return action, {"id": name, "name": name, "arn": arn}


def _dimensions(dimensions: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in (dimensions or {}).items()]


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A planned metric query (metricQueries) in the API's shape (Metrics)."""
    shaped: dict[str, Any] = {"Id": query["id"], "ReturnData": bool(query.get("returnData", False))}
    for key, api in (("expression", "Expression"), ("label", "Label")):
        if query.get(key):
            shaped[api] = query[key]
    if query.get("metric"):
        metric = query["metric"]
        stat: dict[str, Any] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimensions(metric.get("dimensions")),
            },
            "Period": int(metric["period"]),
            "Stat": metric["stat"],
        }
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        shaped["MetricStat"] = stat
    return shaped


# Planned alarm input -> put_metric_alarm argument, where the value passes as is (numbers made whole).
_ALARM_ARGUMENTS = {
    "alarmDescription": "AlarmDescription",
    "comparisonOperator": "ComparisonOperator",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "period": "Period",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "unit": "Unit",
    "treatMissingData": "TreatMissingData",
    "actionsEnabled": "ActionsEnabled",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "thresholdMetricId": "ThresholdMetricId",
}


def _metric_alarm(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cloudwatch = sandbox.client("cloudwatch")
    name = inputs["name"]

    def find() -> dict[str, Any] | None:
        held = cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])["MetricAlarms"]
        return held[0] if held else None

    def create() -> dict[str, Any]:
        arguments: dict[str, Any] = {
            api: int(inputs[key]) if key in ("evaluationPeriods", "datapointsToAlarm", "period") else inputs[key]
            for key, api in _ALARM_ARGUMENTS.items()
            if key in inputs
        }
        if "threshold" in inputs:
            arguments["Threshold"] = float(inputs["threshold"])
        if inputs.get("dimensions"):
            arguments["Dimensions"] = _dimensions(inputs["dimensions"])
        if inputs.get("metricQueries"):
            arguments["Metrics"] = [_metric_query(q) for q in inputs["metricQueries"]]
        cloudwatch.put_metric_alarm(AlarmName=name, Tags=tags(inputs), **arguments)
        created = find()
        assert created is not None
        return created

    action, found = found_or_created(find, create)
    return action, {"id": name, "name": name, "arn": found["AlarmArn"]}


def _dashboard(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cloudwatch = sandbox.client("cloudwatch")
    name = inputs["dashboardName"]
    action, _ = found_or_created(
        lambda: cloudwatch.get_dashboard(DashboardName=name),
        lambda: cloudwatch.put_dashboard(DashboardName=name, DashboardBody=inputs["dashboardBody"]),
        "ResourceNotFound",
        "ResourceNotFoundException",
    )
    arn = cloudwatch.get_dashboard(DashboardName=name)["DashboardArn"]
    return action, {"id": name, "dashboardName": name, "dashboardArn": arn, "arn": arn}


def _event_rule(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    events = sandbox.client("events")
    name = inputs["name"]
    bus = inputs.get("eventBusName") or "default"

    def create() -> str:
        arguments: dict[str, Any] = {"Name": name, "EventBusName": bus, "Tags": tags(inputs)}
        for key, api in (
            ("scheduleExpression", "ScheduleExpression"),
            ("eventPattern", "EventPattern"),
            ("description", "Description"),
            ("roleArn", "RoleArn"),
        ):
            if inputs.get(key):
                arguments[api] = inputs[key]
        arguments["State"] = inputs.get("state") or ("DISABLED" if inputs.get("isEnabled") is False else "ENABLED")
        return str(events.put_rule(**arguments)["RuleArn"])

    action, arn = found_or_created(
        lambda: str(events.describe_rule(Name=name, EventBusName=bus)["Arn"]), create, "ResourceNotFoundException"
    )
    return action, {"id": name if bus == "default" else f"{bus}/{name}", "name": name, "arn": arn}


def _event_target(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The target's id is the plan's targetId or, where it gives none (the provider then makes one up), the name
    its ARN ends with (a function's, a queue's), so a second seed finds the same target."""
    events = sandbox.client("events")
    rule, arn = inputs["rule"], inputs["arn"]
    bus = inputs.get("eventBusName") or "default"
    target_id = inputs.get("targetId") or arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1][:64]

    def create() -> dict[str, Any]:
        target: dict[str, Any] = {"Id": target_id, "Arn": arn}
        for key, api in (("input", "Input"), ("inputPath", "InputPath"), ("roleArn", "RoleArn")):
            if inputs.get(key):
                target[api] = inputs[key]
        failed = events.put_targets(Rule=rule, EventBusName=bus, Targets=[target])["FailedEntries"]
        if failed:
            raise ClientError({"Error": {"Code": failed[0].get("ErrorCode", ""), "Message": str(failed)}}, "PutTargets")
        return target

    action, _ = found_or_created(
        lambda: first(
            events.list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"], lambda t: t["Id"] == target_id
        ),
        create,
    )
    prefix = "" if bus == "default" else f"{bus}-"
    return action, {"id": f"{prefix}{rule}-{target_id}", "targetId": target_id, "arn": arn}


REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:cloudwatch/logGroup:LogGroup": ("log group", _log_group),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch alarm", _metric_alarm),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboard", _dashboard),
    "aws:cloudwatch/eventRule:EventRule": ("event rule", _event_rule),
    "aws:cloudwatch/eventTarget:EventTarget": ("event target", _event_target),
}
