"""The Lambda functions: container images from ECR, their log groups, one shared role, and their triggers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.errors import ConfigError
from tradai_nb.settings import SETTINGS_FIELDS, Settings
from tradai_nb.stacks.compute.ecs import Cluster
from tradai_nb.stacks.compute.iam import AccountArns, ServiceRole, add_data_access, service_role
from tradai_nb.stacks.compute.upstream import UpstreamOutputs
from tradai_nb.stacks.policy import PolicyBuilder

if TYPE_CHECKING:
    import pulumi_aws as aws

# Built for arm64 like the service images (Graviton is also the cheaper Lambda architecture).
ARCHITECTURE = "arm64"
# One backtest request per invocation; a failed one goes back to the queue (and on to the DLQ) alone.
QUEUE_BATCH_SIZE = 1


@dataclass(frozen=True)
class Trigger:
    """What invokes a function: a schedule expression, a queue or topic key, or the backtest workflow."""

    kind: str  # schedule | queue | topic | workflow
    source: str


@dataclass(frozen=True)
class LambdaFunctions:
    functions: dict[str, aws.lambda_.Function]
    role: ServiceRole


def trigger_of(function: str, settings: Settings) -> Trigger:
    """Read config.LAMBDA_FUNCTIONS[function]["trigger"]; "setting:<field>" takes the schedule from settings."""
    raw = str(config.LAMBDA_FUNCTIONS[function]["trigger"])
    if raw.startswith(("rate(", "cron(")):
        return Trigger("schedule", raw)
    kind, _, source = raw.partition(":")
    if kind == "setting" and source in SETTINGS_FIELDS:
        schedule = str(getattr(settings, source))
        if schedule.startswith(("rate(", "cron(")):
            return Trigger("schedule", schedule)
    if kind == "sqs" and source:
        return Trigger("queue", source)
    if kind == "sns" and source:
        return Trigger("topic", source)
    if raw == "stepfunctions":
        return Trigger("workflow", "")
    raise ConfigError(
        f"config.LAMBDA_FUNCTIONS[{function!r}]: trigger {raw!r} is not understood; use rate(...) or cron(...), "
        f"setting:<a settings field holding a schedule>, sqs:{config.BACKTEST_QUEUE}, sns:<topic> or stepfunctions"
    )


def function_log_group(function: str, environment: str) -> str:
    """Where Lambda writes a function's logs (its fixed convention)."""
    return f"/aws/lambda/{config.get_function_name(function, environment)}"


def lambda_functions(
    settings: Settings, upstream: UpstreamOutputs, arns: AccountArns, cluster: Cluster, state_machine_name: str
) -> LambdaFunctions:
    """config.LAMBDA_FUNCTIONS as image functions, wired to their schedules, the backtest queue and the alerts topic."""
    triggers = {function: trigger_of(function, settings) for function in config.LAMBDA_FUNCTIONS}
    queues = {config.BACKTEST_QUEUE: upstream.backtest_queue_arn}
    topics = {"alerts": upstream.alerts_topic_arn}
    _check_trigger_sources(triggers, queues, topics)

    log_groups = {function: _log_group(function, settings) for function in config.LAMBDA_FUNCTIONS}
    role = service_role(
        "lambda",
        "lambda.amazonaws.com",
        _role_policy(settings, upstream, arns, cluster, state_machine_name),
        settings,
        "lambda",
    )
    state_machine_arn = arns.arn("states", f"stateMachine:{state_machine_name}")
    functions = {
        function: _function(function, settings, upstream, cluster, role, log_groups[function], state_machine_arn)
        for function in config.LAMBDA_FUNCTIONS
    }
    for function, trigger in triggers.items():
        if trigger.kind == "schedule":
            _schedule(function, trigger.source, functions[function], settings)
        elif trigger.kind == "queue":
            _queue_trigger(function, queues[trigger.source], functions[function], role, settings)
        elif trigger.kind == "topic":
            _topic_trigger(function, topics[trigger.source], functions[function])
    return LambdaFunctions(functions, role)


def _check_trigger_sources(
    triggers: dict[str, Trigger], queues: dict[str, pulumi.Output], topics: dict[str, pulumi.Output]
) -> None:
    """Fail on a queue or topic trigger naming a queue or topic this estate does not have."""
    for function, trigger in triggers.items():
        known = {"queue": queues, "topic": topics}.get(trigger.kind)
        if known is not None and trigger.source not in known:
            raise ConfigError(
                f"config.LAMBDA_FUNCTIONS[{function!r}]: no {trigger.kind} {trigger.source!r} in this estate; "
                f"known: {', '.join(known)}"
            )


def _log_group(function: str, settings: Settings) -> aws.cloudwatch.LogGroup:
    """A function's log group, at the name Lambda writes to."""
    import pulumi_aws as aws

    env = settings.environment
    return aws.cloudwatch.LogGroup(
        f"{function}-logs",
        name=function_log_group(function, env),
        retention_in_days=settings.log_retention_days,
        tags=config.get_tags(service=function, environment=env),
    )


def _function(
    function: str,
    settings: Settings,
    upstream: UpstreamOutputs,
    cluster: Cluster,
    role: ServiceRole,
    log_group: aws.cloudwatch.LogGroup,
    state_machine_arn: pulumi.Input[str],
) -> aws.lambda_.Function:
    """One image function with the shared role, its log group and the estate's ARNs in its environment."""
    import pulumi_aws as aws

    env = settings.environment
    spec = config.LAMBDA_FUNCTIONS[function]
    return aws.lambda_.Function(
        function,
        name=config.get_function_name(function, env),
        package_type="Image",
        image_uri=upstream.image(function),
        architectures=[ARCHITECTURE],
        role=role.role.arn,
        memory_size=int(spec["memory"]),
        timeout=int(spec["timeout"]),
        environment={
            "variables": {
                "TRADAI_ENVIRONMENT": env,
                "ALERTS_TOPIC_ARN": upstream.alerts_topic_arn,
                "BACKTEST_QUEUE_URL": upstream.backtest_queue_url,
                "BACKTEST_STATE_MACHINE_ARN": state_machine_arn,
                "ECS_CLUSTER_NAME": cluster.cluster.name,
            }
        },
        logging_config={"log_format": "Text", "log_group": log_group.name},
        tags=config.get_tags(service=function, environment=env),
        opts=pulumi.ResourceOptions(depends_on=[role.policy, log_group]),
    )


def _queue_trigger(
    function: str, queue_arn: pulumi.Input[str], target: aws.lambda_.Function, role: ServiceRole, settings: Settings
) -> None:
    """The event source mapping that feeds a queue to a function, one message at a time."""
    import pulumi_aws as aws

    aws.lambda_.EventSourceMapping(
        f"{function}-queue",
        event_source_arn=queue_arn,
        function_name=target.arn,
        batch_size=QUEUE_BATCH_SIZE,
        function_response_types=["ReportBatchItemFailures"],
        tags=config.get_tags(service=function, environment=settings.environment),
        opts=pulumi.ResourceOptions(depends_on=[role.policy]),
    )


def _topic_trigger(function: str, topic_arn: pulumi.Input[str], target: aws.lambda_.Function) -> None:
    """The topic's permission to invoke a function and the function's subscription to the topic."""
    import pulumi_aws as aws

    permission = aws.lambda_.Permission(
        f"{function}-topic",
        action="lambda:InvokeFunction",
        function=target.name,
        principal="sns.amazonaws.com",
        source_arn=topic_arn,
    )
    aws.sns.TopicSubscription(
        f"{function}-topic",
        topic=topic_arn,
        protocol="lambda",
        endpoint=target.arn,
        opts=pulumi.ResourceOptions(depends_on=[permission]),
    )


def _schedule(function: str, expression: str, target: aws.lambda_.Function, settings: Settings) -> None:
    """The schedule rule that invokes a function, its target and its permission to invoke."""
    import pulumi_aws as aws

    env = settings.environment
    rule = aws.cloudwatch.EventRule(
        f"{function}-schedule",
        name=config.get_resource_name(f"{function}-schedule", env),
        schedule_expression=expression,
        tags=config.get_tags(service=function, environment=env),
    )
    aws.cloudwatch.EventTarget(f"{function}-schedule", rule=rule.name, arn=target.arn)
    aws.lambda_.Permission(
        f"{function}-schedule",
        action="lambda:InvokeFunction",
        function=target.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )


def _role_policy(
    settings: Settings, upstream: UpstreamOutputs, arns: AccountArns, cluster: Cluster, state_machine_name: str
) -> PolicyBuilder:
    """The functions' shared role policy: their logs, data, the backtest queue and workflow, cluster tasks, costs."""
    env = settings.environment
    policy = PolicyBuilder().allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [arns.log_streams(function_log_group(f, env)) for f in config.LAMBDA_FUNCTIONS],
        sid="FunctionLogs",
    )
    return (
        add_data_access(policy, upstream)
        .allow(
            ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            [upstream.backtest_queue_arn],
            sid="ConsumeBacktests",
        )
        # The state machine's ARN follows from its name, so the role needs no reference back to it (it invokes us).
        .allow(
            ["states:StartExecution"],
            [arns.arn("states", f"stateMachine:{state_machine_name}")],
            sid="StartBacktestWorkflow",
        )
        .allow(
            ["ecs:DescribeTasks", "ecs:StopTask"],
            [pulumi.Output.concat(arns.arn("ecs", "task/"), cluster.cluster.name, "/*")],
            sid="ReapClusterTasks",
        )
        # ListTasks has no resource-level permissions; the condition keeps it to this cluster.
        .allow(
            ["ecs:ListTasks"],
            ["*"],
            sid="ListClusterTasks",
            condition={"ArnEquals": {"ecs:cluster": cluster.cluster.arn}},
        )
        # Cost Explorer has no resource-level permissions; read-only.
        .allow(["ce:GetCostAndUsage"], ["*"], sid="ReadCosts")
    )
