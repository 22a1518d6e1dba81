"""Foundation stack."""
import pulumi
from tradai_nb.settings import Settings

def make_program(settings: Settings):
    def program() -> None:
        import pulumi_aws as aws
        v = aws.ec2.Vpc("vpc", cidr_block=settings.vpc_cidr)
        pulumi.export("vpc_id", v.id)
    return program
