"""The Lambda functions: container images from ECR, their log groups, one shared role, and their triggers."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from tradai_nb import config
from tradai_nb.errors import ConfigError
from tradai_nb.settings import SETTINGS_FIELDS, Settings
from tradai_nb.stacks.compute.ecs import Cluster
from tradai_nb.stacks.compute.iam import AccountArns, ServiceRole, add_data_access, service_role
from tradai_nb.stacks.compute.upstream import UpstreamOutputs
from tradai_nb.stacks.policy import PolicyBuilder

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
    functions: dict[str, pulumi.CustomResource]
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


def lambda_functions(settings: Settings, upstream: UpstreamOutputs, arns: AccountArns, cluster: Cluster,
                     state_machine_name: str) -> LambdaFunctions:
    """config.LAMBDA_FUNCTIONS as image functions, wired to their schedules, the backtest queue and the alerts topic."""
    import pulumi_aws as aws

    env = settings.environment
    triggers = {function: trigger_of(function, settings) for function in config.LAMBDA_FUNCTIONS}
    queues = {config.BACKTEST_QUEUE: upstream.backtest_queue_arn}
    topics = {"alerts": upstream.alerts_topic_arn}
    for function, trigger in triggers.items():
        known = {"queue": queues, "topic": topics}.get(trigger.kind)
        if known is not None and trigger.source not in known:
            raise ConfigError(
                f"config.LAMBDA_FUNCTIONS[{function!r}]: no {trigger.kind} {trigger.source!r} in this estate; "
                f"known: {', '.join(known)}"
            )

    log_groups = {
        function: aws.cloudwatch.LogGroup(
            f"{function}-logs",
            name=function_log_group(function, env),
            retention_in_days=settings.log_retention_days,
            tags=config.get_tags(service=function, environment=env),
        )
        for function in config.LAMBDA_FUNCTIONS
    }
    role = service_role("lambda", "lambda.amazonaws.com", _role_policy(settings, upstream, arns, cluster,
                                                                       state_machine_name), settings, "lambda")
    state_machine_arn = arns.arn("states", f"stateMachine:{state_machine_name}")
    functions = {}
    for function, spec in config.LAMBDA_FUNCTIONS.items():
        functions[function] = aws.lambda_.Function(
            function,
            name=config.get_function_name(function, env),
            package_type="Image",
            image_uri=upstream.image(function),
            architectures=[ARCHITECTURE],
            role=role.role.arn,
            memory_size=int(spec["memory"]),
            timeout=int(spec["timeout"]),
            environment={"variables": {
                "TRADAI_ENVIRONMENT": env,
                "ALERTS_TOPIC_ARN": upstream.alerts_topic_arn,
                "BACKTEST_QUEUE_URL": upstream.backtest_queue_url,
                "BACKTEST_STATE_MACHINE_ARN": state_machine_arn,
                "ECS_CLUSTER_NAME": cluster.cluster.name,
            }},
            logging_config={"log_format": "Text", "log_group": log_groups[function].name},
            tags=config.get_tags(service=function, environment=env),
            opts=pulumi.ResourceOptions(depends_on=[role.policy, log_groups[function]]),
        )
    for function, trigger in triggers.items():
        if trigger.kind == "schedule":
            _schedule(function, trigger.source, functions[function], settings)
        elif trigger.kind == "queue":
            aws.lambda_.EventSourceMapping(
                f"{function}-queue",
                event_source_arn=queues[trigger.source],
                function_name=functions[function].arn,
                batch_size=QUEUE_BATCH_SIZE,
                function_response_types=["ReportBatchItemFailures"],
                tags=config.get_tags(service=function, environment=env),
                opts=pulumi.ResourceOptions(depends_on=[role.policy]),
            )
        elif trigger.kind == "topic":
            permission = aws.lambda_.Permission(
                f"{function}-topic",
                action="lambda:InvokeFunction",
                function=functions[function].name,
                principal="sns.amazonaws.com",
                source_arn=topics[trigger.source],
            )
            aws.sns.TopicSubscription(
                f"{function}-topic",
                topic=topics[trigger.source],
                protocol="lambda",
                endpoint=functions[function].arn,
                opts=pulumi.ResourceOptions(depends_on=[permission]),
            )
    return LambdaFunctions(functions, role)


def _schedule(function: str, expression: str, target: pulumi.CustomResource, settings: Settings) -> None:
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


def _role_policy(settings: Settings, upstream: UpstreamOutputs, arns: AccountArns, cluster: Cluster,
                 state_machine_name: str) -> PolicyBuilder:
    env = settings.environment
    policy = PolicyBuilder().allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [arns.log_streams(function_log_group(f, env)) for f in config.LAMBDA_FUNCTIONS],
        sid="FunctionLogs",
    )
    return (
        add_data_access(policy, upstream)
        .allow(["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
               [upstream.backtest_queue_arn], sid="ConsumeBacktests")
        # The state machine's ARN follows from its name, so the role needs no reference back to it (it invokes us).
        .allow(["states:StartExecution"], [arns.arn("states", f"stateMachine:{state_machine_name}")],
               sid="StartBacktestWorkflow")
        .allow(["ecs:DescribeTasks", "ecs:StopTask"], [pulumi.Output.concat(
            arns.arn("ecs", "task/"), cluster.cluster.name, "/*")], sid="ReapClusterTasks")
        # ListTasks has no resource-level permissions; the condition keeps it to this cluster.
        .allow(["ecs:ListTasks"], ["*"], sid="ListClusterTasks",
               condition={"ArnEquals": {"ecs:cluster": cluster.cluster.arn}})
        # Cost Explorer has no resource-level permissions; read-only.
        .allow(["ce:GetCostAndUsage"], ["*"], sid="ReadCosts")
    )
