"""Compute stack."""
import pulumi
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import Upstream

def make_program(settings: Settings):
    def program() -> None:
        import pulumi_aws as aws
        p = Upstream("persistent", settings); f = Upstream("foundation", settings)
        sg = aws.ec2.SecurityGroup("alb", vpc_id=f.require("vpc_id"), description=p.require("configs_bucket"))
        pulumi.export("alb_sg", sg.id)
        pulumi.export("missing", p.require("nope") if settings.alarm_min_strategies == 99 else "x")
    return program
