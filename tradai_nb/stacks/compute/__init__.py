"""Compute stack: IAM roles, ALB, ECS cluster with Fargate services or the consolidated host, Lambda, Step Functions."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from tradai_nb.settings import Settings
from tradai_nb.stacks.compute import alb, ec2_consolidated, ecs, ecs_services, iam, lambda_funcs, step_functions
from tradai_nb.stacks.compute.upstream import UpstreamOutputs


def make_program(settings: Settings) -> Callable[[], None]:
    """The compute program for these settings; it reads persistent and foundation only through their exports."""

    def program() -> None:
        upstream = UpstreamOutputs.read(settings)
        arns = iam.AccountArns.lookup(settings)
        roles = iam.compute_roles(settings, upstream, arns)
        load_balancer = alb.load_balancer(settings, upstream)
        cluster = ecs.cluster(settings)
        if settings.consolidated:
            host = ec2_consolidated.consolidated_host(settings, upstream, roles, arns, load_balancer)
            # No Fargate services here, but the backtest workflow still runs its task on the cluster.
            backtest_task = ecs_services.task_definition(step_functions.BACKTEST_SERVICE, settings, upstream, roles)
            service_names: dict = {}
            consolidated_asg_name: pulumi.Input[str] = host.group.name
        else:
            fargate = ecs_services.fargate_services(settings, upstream, roles, cluster, load_balancer)
            backtest_task = fargate.tasks[step_functions.BACKTEST_SERVICE]
            service_names = {service: s.name for service, s in fargate.services.items()}
            consolidated_asg_name = ""
        state_machine_name = step_functions.state_machine_name(settings.environment)
        lambdas = lambda_funcs.lambda_functions(settings, upstream, arns, cluster, state_machine_name)
        workflow = step_functions.backtest_workflow(
            settings,
            upstream,
            arns,
            cluster,
            backtest_task.task_definition,
            roles,
            lambdas.functions,
        )

        target_groups = load_balancer.target_groups
        pulumi.export("alb_arn", load_balancer.alb.arn)
        pulumi.export("alb_arn_suffix", load_balancer.alb.arn_suffix)
        pulumi.export("alb_dns_name", load_balancer.alb.dns_name)
        pulumi.export("alb_listener_arn", load_balancer.listener.arn)
        pulumi.export("target_group_arns", {service: tg.arn for service, tg in target_groups.items()})
        pulumi.export("target_group_arn_suffixes", {service: tg.arn_suffix for service, tg in target_groups.items()})
        pulumi.export("ecs_cluster_name", cluster.cluster.name)
        pulumi.export("ecs_cluster_arn", cluster.cluster.arn)
        pulumi.export("service_names", service_names)
        pulumi.export("consolidated_asg_name", consolidated_asg_name)
        pulumi.export("lambda_function_names", {f: fn.name for f, fn in lambdas.functions.items()})
        pulumi.export("lambda_function_arns", {f: fn.arn for f, fn in lambdas.functions.items()})
        pulumi.export("state_machine_arn", workflow.arn)
        pulumi.export("ecs_task_role_arn", roles.task.role.arn)
        pulumi.export("ecs_execution_role_arn", roles.execution.role.arn)
        pulumi.export("instance_profile_name", roles.instance_profile.name)

    return program
