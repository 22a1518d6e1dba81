"""Edge stack: the HTTP API into the ALB, the WAF on the ALB, CloudWatch alarms and the trading dashboard."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from tradai_nb.settings import Settings
from tradai_nb.stacks.common import Upstream
from tradai_nb.stacks.edge import api_gateway, cloudwatch_alarms, cloudwatch_dashboard, waf


def make_program(settings: Settings) -> Callable[[], None]:
    """The edge stack's Pulumi program for these settings."""

    def program() -> None:
        persistent = Upstream("persistent", settings)
        foundation = Upstream("foundation", settings)
        compute = Upstream("compute", settings)

        api = api_gateway.create_http_api(
            settings,
            private_subnet_ids=foundation.require("private_subnet_ids"),
            alb_sg_id=foundation.require("alb_sg_id"),
            alb_listener_arn=compute.require("alb_listener_arn"),
            user_pool_endpoint=persistent.require("cognito_user_pool_endpoint"),
            m2m_client_id=persistent.require("cognito_m2m_client_id"),
        )
        web_acl = waf.create_web_acl(
            settings,
            alb_arn=compute.require("alb_arn"),
            vpc_cidr=foundation.require("vpc_cidr"),
        )
        alb_arn_suffix = compute.require("alb_arn_suffix")
        backtest_dlq_arn = foundation.require("backtest_dlq_arn")
        alarms = cloudwatch_alarms.create_alarms(
            settings,
            alerts_topic_arn=foundation.require("alerts_topic_arn"),
            alb_arn_suffix=alb_arn_suffix,
            target_group_arn_suffixes=compute.require("target_group_arn_suffixes"),
            backtest_dlq_arn=backtest_dlq_arn,
        )
        dashboard = cloudwatch_dashboard.create_dashboard(
            settings,
            alb_arn_suffix=alb_arn_suffix,
            ecs_cluster_name=compute.require("ecs_cluster_name"),
            service_names=compute.require("service_names"),
            consolidated_asg_name=compute.require("consolidated_asg_name"),
            lambda_function_names=compute.require("lambda_function_names"),
            backtest_queue_arn=foundation.require("backtest_queue_arn"),
            backtest_dlq_arn=backtest_dlq_arn,
            alarm_arns=[alarms.composite.arn, *(alarm.arn for alarm in alarms.metric_alarms)],
        )

        pulumi.export("api_id", api.id)
        pulumi.export("api_endpoint", api.api_endpoint)
        pulumi.export("waf_web_acl_arn", web_acl.arn)
        pulumi.export("dashboard_name", dashboard.dashboard_name)
        pulumi.export("alarm_names", [alarm.name for alarm in alarms.metric_alarms])
        pulumi.export("composite_alarm_name", alarms.composite.alarm_name)

    return program
