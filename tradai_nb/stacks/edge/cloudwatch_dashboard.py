"""The trading-platform CloudWatch dashboard, built from the upstream stacks' outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.edge.cloudwatch_alarms import (
    ACTIVE_STRATEGIES_METRIC,
    CUSTOM_NAMESPACE,
    HEARTBEAT_METRIC,
    queue_name,
)

if TYPE_CHECKING:
    import pulumi_aws as aws

GRID_WIDTH = 24
WIDGET_HEIGHT = 6


@dataclass(frozen=True)
class DashboardSources:
    """The resolved upstream values the widgets point at."""

    alb_arn_suffix: str
    ecs_cluster_name: str
    service_names: dict[str, str]
    consolidated_asg_name: str
    lambda_function_names: dict[str, str]
    backtest_queue_arn: str
    backtest_dlq_arn: str
    alarm_arns: list[str]


def create_dashboard(settings: Settings, **sources: pulumi.Input[Any]) -> aws.cloudwatch.Dashboard:
    """Declare the dashboard; `sources` are the DashboardSources fields as (possibly unresolved) inputs."""
    import pulumi_aws as aws

    body = pulumi.Output.all(**sources).apply(lambda values: dashboard_body(settings, DashboardSources(**values)))
    return aws.cloudwatch.Dashboard(
        "dashboard",
        dashboard_name=config.get_resource_name("trading-platform", settings.environment),
        dashboard_body=body,
    )


def dashboard_body(settings: Settings, sources: DashboardSources) -> str:
    """The dashboard JSON: ALB, compute CPU, Lambda errors, queues, strategies and heartbeat, alarm states."""
    region = settings.aws_region
    rows = [
        _alb_row(settings, sources),
        [
            _cpu_widget(region, sources),
            _metrics(
                "Lambda errors",
                region,
                [
                    ["AWS/Lambda", "Errors", "FunctionName", name, {"stat": "Sum", "label": function}]
                    for function, name in sorted(sources.lambda_function_names.items())
                ],
                period_s=300,
            ),
        ],
        _workload_row(settings, sources),
        [
            {
                "type": "alarm",
                "properties": {
                    "title": "Alarms",
                    "alarms": sources.alarm_arns,
                    "sortBy": "stateUpdatedTimestamp",
                },
            },
        ],
    ]
    return json.dumps({"widgets": _layout(rows)}, sort_keys=True)


def _alb_row(settings: Settings, sources: DashboardSources) -> list[dict]:
    """The load balancer: response time against the latency alarm, requests, 5xx responses."""
    region = settings.aws_region
    alb = ["LoadBalancer", sources.alb_arn_suffix]
    latency_threshold_s = settings.alarm_latency_threshold_ms / 1000
    return [
        _metrics(
            "ALB target response time (s)",
            region,
            [
                ["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p50", "label": "p50"}],
                ["AWS/ApplicationELB", "TargetResponseTime", *alb, {"stat": "p99", "label": "p99"}],
            ],
            period_s=60,
            horizontal=[{"label": "latency alarm", "value": latency_threshold_s}],
        ),
        _metrics(
            "ALB requests",
            region,
            [
                ["AWS/ApplicationELB", "RequestCount", *alb, {"stat": "Sum"}],
            ],
            period_s=60,
        ),
        _metrics(
            "ALB 5xx responses",
            region,
            [
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *alb, {"stat": "Sum", "label": "ALB"}],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *alb, {"stat": "Sum", "label": "targets"}],
            ],
            period_s=300,
        ),
    ]


def _workload_row(settings: Settings, sources: DashboardSources) -> list[dict]:
    """The work: backtest queue and dead letters, active strategies, heartbeats."""
    region = settings.aws_region
    custom = ["Environment", settings.environment]
    return [
        _metrics(
            "Backtest queue depth",
            region,
            [
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    queue_name(arn),
                    {"stat": "Maximum", "label": label},
                ]
                for label, arn in (
                    ("queue", sources.backtest_queue_arn),
                    ("dead letters", sources.backtest_dlq_arn),
                )
            ],
            period_s=300,
        ),
        _metrics(
            "Active strategies",
            region,
            [
                [CUSTOM_NAMESPACE, ACTIVE_STRATEGIES_METRIC, *custom, {"stat": "Minimum"}],
            ],
            period_s=300,
            horizontal=(
                [{"label": "minimum", "value": settings.alarm_min_strategies}] if settings.alarm_min_strategies else []
            ),
        ),
        _metrics(
            "Heartbeats",
            region,
            [
                [CUSTOM_NAMESPACE, HEARTBEAT_METRIC, *custom, {"stat": "SampleCount"}],
            ],
            period_s=300,
        ),
    ]


def _cpu_widget(region: str, sources: DashboardSources) -> dict:
    if sources.service_names:
        return _metrics(
            "ECS service CPU (%)",
            region,
            [
                [
                    "AWS/ECS",
                    "CPUUtilization",
                    "ClusterName",
                    sources.ecs_cluster_name,
                    "ServiceName",
                    name,
                    {"label": service},
                ]
                for service, name in sorted(sources.service_names.items())
            ],
            period_s=60,
        )
    return _metrics(
        "Consolidated host CPU (%)",
        region,
        [
            [
                "AWS/EC2",
                "CPUUtilization",
                "AutoScalingGroupName",
                sources.consolidated_asg_name,
                {"label": "consolidated"},
            ],
        ],
        period_s=60,
    )


def _metrics(
    title: str, region: str, metrics: list[list], *, period_s: int, horizontal: list[dict] | None = None
) -> dict:
    properties: dict[str, Any] = {
        "title": title,
        "region": region,
        "view": "timeSeries",
        "stacked": False,
        "period": period_s,
        "metrics": metrics,
    }
    if horizontal:
        properties["annotations"] = {"horizontal": horizontal}
    return {"type": "metric", "properties": properties}


def _layout(rows: list[list[dict]]) -> list[dict]:
    """Place each row's widgets side by side, sharing the grid width equally."""
    widgets = []
    for row_index, row in enumerate(rows):
        width = GRID_WIDTH // len(row)
        for column, widget in enumerate(row):
            widgets.append(
                {**widget, "x": column * width, "y": row_index * WIDGET_HEIGHT, "width": width, "height": WIDGET_HEIGHT}
            )
    return widgets
