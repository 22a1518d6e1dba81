"""The backtest workflow: validate, run the backtest as an ECS task, process the results, promote the model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.compute.ecs import Cluster
from tradai_nb.stacks.compute.iam import AccountArns, ComputeRoles, service_role
from tradai_nb.stacks.compute.upstream import UpstreamOutputs
from tradai_nb.stacks.policy import PolicyBuilder

if TYPE_CHECKING:
    import pulumi_aws as aws

# The guide's strategy-service runs strategies and backtests: its task definition runs each backtest.
BACKTEST_SERVICE = "strategy-service"
RESULTS_FUNCTION = "backtest-results-processor"
PROMOTER_FUNCTION = "model-promoter"
REQUIRED_INPUT = ("backtest_id", "strategy")
# ecs:runTask.sync watches the task through this EventBridge rule, which Step Functions manages in the account.
SYNC_RULE = "rule/StepFunctionsGetEventsForECSTaskRule"


@dataclass(frozen=True)
class Slot:
    """A place in WORKFLOW_DEFINITION filled at deploy time with the named value (an ARN, the subnets ...)."""

    key: str


_NOTIFY_FAILURE = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]
_LAMBDA_RETRY = [
    {
        "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
    }
]
FAILURE_SUBJECT = "TradAI backtest workflow failed ({environment})"

# The workflow in Amazon States Language; any failure after validation is published to the alerts topic.
WORKFLOW_DEFINITION = {
    "Comment": "TradAI backtest: validate -> ECS backtest task -> results processor -> model promoter",
    "StartAt": "ValidateRequest",
    "States": {
        "ValidateRequest": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [{"Variable": f"$.{field}", "IsPresent": True} for field in REQUIRED_INPUT],
                    "Next": "RunBacktest",
                }
            ],
            "Default": "InvalidRequest",
        },
        "InvalidRequest": {
            "Type": "Fail",
            "Error": "InvalidRequest",
            "Cause": f"the execution input needs {' and '.join(REQUIRED_INPUT)}",
        },
        "RunBacktest": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            # No launch type: the cluster's default capacity provider strategy applies (Spot where allowed).
            "Parameters": {
                "Cluster": Slot("cluster_arn"),
                "TaskDefinition": Slot("task_definition_arn"),
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "Subnets": Slot("subnets"),
                        "SecurityGroups": [Slot("security_group")],
                        "AssignPublicIp": "DISABLED",
                    }
                },
                "Overrides": {
                    "ContainerOverrides": [
                        {
                            "Name": BACKTEST_SERVICE,
                            "Environment": [
                                {"Name": "TRADAI_TASK", "Value": "backtest"},
                                {"Name": "BACKTEST_ID", "Value.$": "$.backtest_id"},
                                {"Name": "STRATEGY", "Value.$": "$.strategy"},
                            ],
                        }
                    ]
                },
                "PropagateTags": "TASK_DEFINITION",
            },
            "ResultPath": "$.task",
            "Catch": _NOTIFY_FAILURE,
            "Next": "ProcessResults",
        },
        "ProcessResults": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": Slot("results_function_arn"), "Payload.$": "$"},
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": "$.results",
            "Retry": _LAMBDA_RETRY,
            "Catch": _NOTIFY_FAILURE,
            "Next": "PromoteModel",
        },
        "PromoteModel": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": Slot("promoter_function_arn"), "Payload.$": "$"},
            "ResultSelector": {"result.$": "$.Payload"},
            "ResultPath": "$.promotion",
            "Retry": _LAMBDA_RETRY,
            "Catch": _NOTIFY_FAILURE,
            "End": True,
        },
        "NotifyFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": Slot("alerts_topic_arn"),
                "Subject": Slot("failure_subject"),
                "Message.$": "States.JsonToString($)",
            },
            "Next": "BacktestFailed",
        },
        "BacktestFailed": {
            "Type": "Fail",
            "Error": "BacktestFailed",
            "Cause": "see the alert published for this execution",
        },
    },
}


def state_machine_name(environment: str) -> str:
    """The backtest state machine's name in this environment."""
    return config.get_resource_name("backtest-workflow", environment)


def fill_slots(template: Any, values: dict[str, Any]) -> Any:
    """A copy of the template with every Slot replaced by its value."""
    if isinstance(template, Slot):
        return values[template.key]
    if isinstance(template, dict):
        return {key: fill_slots(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_slots(item, values) for item in template]
    return template


def definition(
    settings: Settings,
    *,
    cluster_arn: str,
    task_definition_arn: str,
    subnets: list[str],
    security_group: str,
    results_function_arn: str,
    promoter_function_arn: str,
    alerts_topic_arn: str,
) -> str:
    """WORKFLOW_DEFINITION as JSON, with this deployment's cluster, task, network, functions and topic."""
    return json.dumps(
        fill_slots(
            WORKFLOW_DEFINITION,
            {
                "cluster_arn": cluster_arn,
                "task_definition_arn": task_definition_arn,
                "subnets": subnets,
                "security_group": security_group,
                "results_function_arn": results_function_arn,
                "promoter_function_arn": promoter_function_arn,
                "alerts_topic_arn": alerts_topic_arn,
                "failure_subject": FAILURE_SUBJECT.format(environment=settings.environment),
            },
        ),
        sort_keys=True,
    )


def workflow_policy(
    settings: Settings,
    upstream: UpstreamOutputs,
    arns: AccountArns,
    cluster: Cluster,
    roles: ComputeRoles,
    functions: dict[str, aws.lambda_.Function],
) -> PolicyBuilder:
    """The workflow role's policy: run and watch the backtest task, invoke its two functions, publish failures."""
    family = config.get_service_name(BACKTEST_SERVICE, settings.environment)
    return (
        PolicyBuilder()
        .allow(
            ["ecs:RunTask"],
            [arns.arn("ecs", f"task-definition/{family}:*")],
            sid="RunBacktestTask",
            condition={"ArnEquals": {"ecs:cluster": cluster.cluster.arn}},
        )
        .allow(
            ["ecs:DescribeTasks", "ecs:StopTask"],
            [pulumi.Output.concat(arns.arn("ecs", "task/"), cluster.cluster.name, "/*")],
            sid="WatchBacktestTask",
        )
        .allow(
            ["iam:PassRole"],
            [roles.task.role.arn, roles.execution.role.arn],
            sid="PassTaskRoles",
            condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        )
        .allow(
            ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
            [arns.arn("events", SYNC_RULE)],
            sid="SyncTaskEvents",
        )
        .allow(
            ["lambda:InvokeFunction"],
            [functions[RESULTS_FUNCTION].arn, functions[PROMOTER_FUNCTION].arn],
            sid="InvokeWorkflowFunctions",
        )
        .allow(["sns:Publish"], [upstream.alerts_topic_arn], sid="PublishFailures")
        # Step Functions' log delivery: these CloudWatch Logs actions have no resource-level permissions.
        .allow(
            [
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ],
            ["*"],
            sid="LogDelivery",
        )
    )


def backtest_workflow(
    settings: Settings,
    upstream: UpstreamOutputs,
    arns: AccountArns,
    cluster: Cluster,
    backtest_task: aws.ecs.TaskDefinition,
    roles: ComputeRoles,
    functions: dict[str, aws.lambda_.Function],
) -> aws.sfn.StateMachine:
    """The state machine, its role (only the task, functions and topic it uses) and its log group."""
    import pulumi_aws as aws

    env = settings.environment
    name = state_machine_name(env)
    log_group = aws.cloudwatch.LogGroup(
        "backtest-workflow",
        # Under /aws/vendedlogs/ so CloudWatch's resource policy for Step Functions logging stays small.
        name=f"/aws/vendedlogs/states/{name}",
        retention_in_days=settings.log_retention_days,
        tags=config.get_tags(service="backtest-workflow", environment=env),
    )
    policy = workflow_policy(settings, upstream, arns, cluster, roles, functions)
    role = service_role("backtest-workflow", "states.amazonaws.com", policy, settings, "backtest-workflow")
    document = pulumi.Output.all(
        cluster_arn=cluster.cluster.arn,
        task_definition_arn=backtest_task.arn,
        subnets=upstream.private_subnet_ids,
        security_group=upstream.ecs_sg_id,
        results_function_arn=functions[RESULTS_FUNCTION].arn,
        promoter_function_arn=functions[PROMOTER_FUNCTION].arn,
        alerts_topic_arn=upstream.alerts_topic_arn,
    ).apply(lambda values: definition(settings, **values))
    return aws.sfn.StateMachine(
        "backtest-workflow",
        name=name,
        type="STANDARD",
        role_arn=role.role.arn,
        definition=document,
        logging_configuration={
            "log_destination": pulumi.Output.concat(log_group.arn, ":*"),
            "include_execution_data": True,
            "level": "ERROR",
        },
        tags=config.get_tags(service="backtest-workflow", environment=env),
        opts=pulumi.ResourceOptions(depends_on=[role.policy]),
    )
