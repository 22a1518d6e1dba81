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


@dataclass(frozen=True)
class _Notify:
    """What every alarm of an environment shares: its tags and the alerts topic it notifies on ALARM and on OK."""

    environment: str
    tags: dict[str, str]
    actions: list[pulumi.Input[str]]

    def alarm(self, key: str, description: str, **arguments: Any) -> aws.cloudwatch.MetricAlarm:
        """A metric alarm named for the key, notifying the alerts topic."""
        import pulumi_aws as aws

        return aws.cloudwatch.MetricAlarm(
            f"alarm-{key}",
            name=config.get_resource_name(key, self.environment),
            alarm_description=description,
            alarm_actions=self.actions,
            ok_actions=self.actions,
            tags=self.tags,
            **arguments,
        )


def create_alarms(
    settings: Settings,
    *,
    alerts_topic_arn: pulumi.Input[str],
    alb_arn_suffix: pulumi.Input[str],
    target_group_arn_suffixes: pulumi.Input[dict[str, str]],
    backtest_dlq_arn: pulumi.Input[str],
) -> Alarms:
    """Declare every alarm, each notifying the alerts topic on ALARM and on OK."""
    env = settings.environment
    notify = _Notify(env, config.get_tags(service="monitoring", environment=env), [alerts_topic_arn])
    critical = [
        *_alb_alarms(notify, settings, alb_arn_suffix),
        *_unhealthy_host_alarms(notify, alb_arn_suffix, target_group_arn_suffixes),
        _heartbeat_alarm(notify),
    ]
    if settings.alarm_min_strategies > 0:
        critical.append(_min_strategies_alarm(notify, settings))
    # Failed backtests need a look but do not degrade trading, so the DLQ stays out of the composite.
    dlq = _backtest_dlq_alarm(notify, backtest_dlq_arn)
    return Alarms([*critical, dlq], _composite_alarm(notify, critical))


def _alb_alarms(
    notify: _Notify, settings: Settings, alb_arn_suffix: pulumi.Input[str]
) -> list[aws.cloudwatch.MetricAlarm]:
    """The ALB's p99 latency and 5xx alarms."""
    alb = {"LoadBalancer": alb_arn_suffix}
    latency = notify.alarm(
        "alb-latency-p99",
        f"ALB target response time p99 above {settings.alarm_latency_threshold_ms} ms for 3 of 5 minutes",
        namespace="AWS/ApplicationELB",
        metric_name="TargetResponseTime",
        dimensions=alb,
        extended_statistic="p99",
        period=60,
        evaluation_periods=5,
        datapoints_to_alarm=3,
        # TargetResponseTime is reported in seconds.
        comparison_operator="GreaterThanThreshold",
        threshold=settings.alarm_latency_threshold_ms / 1000,
        treat_missing_data="notBreaching",
    )
    errors = notify.alarm(
        "alb-5xx",
        f"ALB and target 5xx responses reached {ALB_5XX_PER_5_MIN_THRESHOLD} in 5 minutes",
        metric_queries=[
            _metric_query("elb", "HTTPCode_ELB_5XX_Count", alb),
            _metric_query("target", "HTTPCode_Target_5XX_Count", alb),
            {
                "id": "errors",
                "expression": "FILL(elb, 0) + FILL(target, 0)",
                "label": "5xx responses",
                "return_data": True,
            },
        ],
        evaluation_periods=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=ALB_5XX_PER_5_MIN_THRESHOLD,
        treat_missing_data="notBreaching",
    )
    return [latency, errors]


def _unhealthy_host_alarms(
    notify: _Notify, alb_arn_suffix: pulumi.Input[str], target_group_arn_suffixes: pulumi.Input[dict[str, str]]
) -> list[aws.cloudwatch.MetricAlarm]:
    """One alarm per service on unhealthy targets in its target group."""
    return [
        notify.alarm(
            f"{service}-unhealthy-hosts",
            f"{service}: unhealthy targets behind the ALB for 3 minutes",
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            dimensions={
                "LoadBalancer": alb_arn_suffix,
                "TargetGroup": pulumi.Output.from_input(target_group_arn_suffixes).apply(_pick_suffix(service)),
            },
            statistic="Maximum",
            period=60,
            evaluation_periods=3,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            treat_missing_data="notBreaching",
        )
        for service in config.SERVICES
    ]


def _heartbeat_alarm(notify: _Notify) -> aws.cloudwatch.MetricAlarm:
    """The alarm on missing platform heartbeats."""
    return notify.alarm(
        "heartbeat",
        f"no {HEARTBEAT_METRIC} for {HEARTBEAT_PERIOD_S * HEARTBEAT_MISSED_PERIODS // 60} minutes",
        namespace=CUSTOM_NAMESPACE,
        metric_name=HEARTBEAT_METRIC,
        dimensions={"Environment": notify.environment},
        statistic="SampleCount",
        period=HEARTBEAT_PERIOD_S,
        evaluation_periods=HEARTBEAT_MISSED_PERIODS,
        comparison_operator="LessThanThreshold",
        threshold=1,
        # Silence is exactly what this alarm is for.
        treat_missing_data="breaching",
    )


def _min_strategies_alarm(notify: _Notify, settings: Settings) -> aws.cloudwatch.MetricAlarm:
    """The alarm on too few active trading strategies."""
    return notify.alarm(
        "min-strategies",
        f"fewer than {settings.alarm_min_strategies} active trading strategies for 15 minutes",
        namespace=CUSTOM_NAMESPACE,
        metric_name=ACTIVE_STRATEGIES_METRIC,
        dimensions={"Environment": notify.environment},
        statistic="Minimum",
        period=300,
        evaluation_periods=3,
        comparison_operator="LessThanThreshold",
        threshold=settings.alarm_min_strategies,
        # No metric means no strategy is reporting.
        treat_missing_data="breaching",
    )


def _backtest_dlq_alarm(notify: _Notify, backtest_dlq_arn: pulumi.Input[str]) -> aws.cloudwatch.MetricAlarm:
    """The alarm on messages in the backtest dead-letter queue."""
    return notify.alarm(
        "backtest-dlq-messages",
        "backtest jobs landed in the dead-letter queue",
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": pulumi.Output.from_input(backtest_dlq_arn).apply(queue_name)},
        statistic="Maximum",
        period=300,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        treat_missing_data="notBreaching",
    )


def _composite_alarm(notify: _Notify, critical: list[aws.cloudwatch.MetricAlarm]) -> aws.cloudwatch.CompositeAlarm:
    """The composite alarm that fires when any of the critical alarms does."""
    import pulumi_aws as aws

    return aws.cloudwatch.CompositeAlarm(
        "alarm-platform-critical",
        alarm_name=config.get_resource_name("platform-critical", notify.environment),
        alarm_description="the trading platform is degraded: one of its critical alarms is firing",
        alarm_rule=pulumi.Output.all(*(a.name for a in critical)).apply(composite_rule),
        alarm_actions=notify.actions,
        ok_actions=notify.actions,
        tags=notify.tags,
    )


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
        "metric": {
            "namespace": "AWS/ApplicationELB",
            "metric_name": metric_name,
            "dimensions": dimensions,
            "stat": "Sum",
            "period": 300,
        },
    }


def _pick_suffix(service: str):
    def pick(suffixes: dict[str, str]) -> str:
        if service not in suffixes:
            exported = [f"target_group_arn_suffixes[{name!r}]" for name in sorted(suffixes)]
            raise MissingUpstreamOutputError("edge", "compute", f"target_group_arn_suffixes[{service!r}]", exported)
        return suffixes[service]

    return pick
