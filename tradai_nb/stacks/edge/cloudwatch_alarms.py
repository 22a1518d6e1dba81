"""CloudWatch alarms on the ALB, trading strategies, heartbeat and backtest DLQ, plus the composite alarm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import MissingUpstreamOutputError

if TYPE_CHECKING:
    import pulumi_aws as aws

# The platform publishes its own metrics under this namespace, with an Environment dimension so that environments
# sharing an account stay apart.
CUSTOM_NAMESPACE = "TradAI"
ACTIVE_STRATEGIES_METRIC = "ActiveStrategies"
HEARTBEAT_METRIC = "Heartbeat"
ALB_5XX_PER_5_MIN_THRESHOLD = 10
HEARTBEAT_PERIOD_S = 300
HEARTBEAT_MISSED_PERIODS = 3


@dataclass(frozen=True)
class Alarms:
    """The metric alarms (in declaration order) and the composite alarm over the critical ones."""

    metric_alarms: list[aws.cloudwatch.MetricAlarm]
    composite: aws.cloudwatch.CompositeAlarm


def create_alarms(
    settings: Settings,
    *,
    alerts_topic_arn: pulumi.Input[str],
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: pulumi.Input[dict[str, str]],
    backtest_dlq_arn: pulumi.Input[str],
) -> Alarms:
    """Declare every alarm, each notifying the alerts topic on ALARM and on OK."""
    import pulumi_aws as aws

    env = settings.environment
    tags = config.get_tags(service="monitoring", environment=env)
    actions = [alerts_topic_arn]
    alb = {"LoadBalancer": alb_arn_suffix}
    custom = {"Environment": env}

    def alarm(key: str, description: str, **arguments: Any) -> aws.cloudwatch.MetricAlarm:
        return aws.cloudwatch.MetricAlarm(
            f"alarm-{key}",
            name=config.get_resource_name(key, env),
            alarm_description=description,
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            **arguments,
        )

    critical = [
        alarm(
            "alb-latency-p99",
            f"ALB target response time p99 above {settings.alarm_latency_threshold_ms} ms for 3 of 5 minutes",
            namespace="AWS/ApplicationELB", metric_name="TargetResponseTime", dimensions=alb,
            extended_statistic="p99", period=60, evaluation_periods=5, datapoints_to_alarm=3,
            # TargetResponseTime is reported in seconds.
            comparison_operator="GreaterThanThreshold", threshold=settings.alarm_latency_threshold_ms / 1000,
            treat_missing_data="notBreaching",
        ),
        alarm(
            "alb-5xx",
            f"ALB and target 5xx responses reached {ALB_5XX_PER_5_MIN_THRESHOLD} in 5 minutes",
            metric_queries=[
                _metric_query("elb", "HTTPCode_ELB_5XX_Count", alb),
                _metric_query("target", "HTTPCode_Target_5XX_Count", alb),
                {"id": "errors", "expression": "FILL(elb, 0) + FILL(target, 0)", "label": "5xx responses",
                 "return_data": True},
            ],
            evaluation_periods=1, comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=ALB_5XX_PER_5_MIN_THRESHOLD, treat_missing_data="notBreaching",
        ),
        *(
            alarm(
                f"{service}-unhealthy-hosts",
                f"{service}: unhealthy targets behind the ALB for 3 minutes",
                namespace="AWS/ApplicationELB", metric_name="UnHealthyHostCount",
                dimensions={
                    "LoadBalancer": alb_arn_suffix,
                    "TargetGroup": pulumi.Output.from_input(target_group_arn_suffixes).apply(_pick_suffix(service)),
                },
                statistic="Maximum", period=60, evaluation_periods=3,
                comparison_operator="GreaterThanThreshold", threshold=0, treat_missing_data="notBreaching",
            )
            for service in config.SERVICES
        ),
        alarm(
            "heartbeat",
            f"no {HEARTBEAT_METRIC} for {HEARTBEAT_PERIOD_S * HEARTBEAT_MISSED_PERIODS // 60} minutes",
            namespace=CUSTOM_NAMESPACE, metric_name=HEARTBEAT_METRIC, dimensions=custom,
            statistic="SampleCount", period=HEARTBEAT_PERIOD_S, evaluation_periods=HEARTBEAT_MISSED_PERIODS,
            comparison_operator="LessThanThreshold", threshold=1,
            # Silence is exactly what this alarm is for.
            treat_missing_data="breaching",
        ),
    ]
    if settings.alarm_min_strategies > 0:
        critical.append(alarm(
            "min-strategies",
            f"fewer than {settings.alarm_min_strategies} active trading strategies for 15 minutes",
            namespace=CUSTOM_NAMESPACE, metric_name=ACTIVE_STRATEGIES_METRIC, dimensions=custom,
            statistic="Minimum", period=300, evaluation_periods=3,
            comparison_operator="LessThanThreshold", threshold=settings.alarm_min_strategies,
            # No metric means no strategy is reporting.
            treat_missing_data="breaching",
        ))
    # Failed backtests need a look but do not degrade trading, so the DLQ stays out of the composite.
    dlq = alarm(
        "backtest-dlq-messages",
        "backtest jobs landed in the dead-letter queue",
        namespace="AWS/SQS", metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": pulumi.Output.from_input(backtest_dlq_arn).apply(queue_name)},
        statistic="Maximum", period=300, evaluation_periods=1,
        comparison_operator="GreaterThanThreshold", threshold=0, treat_missing_data="notBreaching",
    )

    composite = aws.cloudwatch.CompositeAlarm(
        "alarm-platform-critical",
        alarm_name=config.get_resource_name("platform-critical", env),
        alarm_description="the trading platform is degraded: one of its critical alarms is firing",
        alarm_rule=pulumi.Output.all(*(a.name for a in critical)).apply(composite_rule),
        alarm_actions=actions,
        ok_actions=actions,
        tags=tags,
    )
    return Alarms([*critical, dlq], composite)


def composite_rule(alarm_names: list[str]) -> str:
    """A composite alarm rule that fires when any of the named alarms is in ALARM."""
    return " OR ".join(f'ALARM("{name}")' for name in alarm_names)


def queue_name(queue_arn: str) -> str:
    """The queue name CloudWatch uses as the QueueName dimension: the last part of the queue ARN."""
    return queue_arn.rsplit(":", 1)[-1]


def _metric_query(query_id: str, metric_name: str, dimensions: dict) -> dict:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {"namespace": "AWS/ApplicationELB", "metric_name": metric_name, "dimensions": dimensions,
                   "stat": "Sum", "period": 300},
    }


def _pick_suffix(service: str):
    def pick(suffixes: dict[str, str]) -> str:
        if service not in suffixes:
            exported = [f"target_group_arn_suffixes[{name!r}]" for name in sorted(suffixes)]
            raise MissingUpstreamOutputError("edge", "compute", f"target_group_arn_suffixes[{service!r}]", exported)
        return suffixes[service]

    return pick
