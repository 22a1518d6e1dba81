"""Compute stack (placeholder exporting the agreed contract until the real program lands)."""

from __future__ import annotations

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import Upstream


def make_program(settings: Settings):
    env = settings.environment

    def program() -> None:
        Upstream("persistent", settings).require("ecr_repository_urls")
        Upstream("foundation", settings).require("vpc_id")
        pulumi.export("alb_arn", "arn:aws:elasticloadbalancing:eu-central-1:000000000000:loadbalancer/app/placeholder/1")
        pulumi.export("alb_arn_suffix", "app/placeholder/1")
        pulumi.export("alb_dns_name", "placeholder.eu-central-1.elb.amazonaws.com")
        pulumi.export("alb_listener_arn", "arn:aws:elasticloadbalancing:eu-central-1:000000000000:listener/app/placeholder/1/2")
        pulumi.export("target_group_arns", {s: f"arn:tg:{s}" for s in config.SERVICES})
        pulumi.export("target_group_arn_suffixes", {s: f"targetgroup/{s}/1" for s in config.SERVICES})
        pulumi.export("ecs_cluster_name", config.get_cluster_name(env))
        pulumi.export("ecs_cluster_arn", f"arn:aws:ecs:eu-central-1:000000000000:cluster/{config.get_cluster_name(env)}")
        pulumi.export("service_names", {} if settings.consolidated else {s: config.get_service_name(s, env) for s in config.SERVICES})
        pulumi.export("consolidated_asg_name", config.get_consolidated_name(env) if settings.consolidated else "")
        pulumi.export("lambda_function_names", {f: config.get_function_name(f, env) for f in config.LAMBDA_FUNCTIONS})
        pulumi.export("lambda_function_arns", {f: f"arn:aws:lambda:eu-central-1:000000000000:function:{config.get_function_name(f, env)}" for f in config.LAMBDA_FUNCTIONS})
        pulumi.export("state_machine_arn", "arn:aws:states:eu-central-1:000000000000:stateMachine:placeholder")
        pulumi.export("ecs_task_role_arn", "arn:aws:iam::000000000000:role/task")
        pulumi.export("ecs_execution_role_arn", "arn:aws:iam::000000000000:role/exec")
        pulumi.export("instance_profile_name", "placeholder-profile")

    return program
