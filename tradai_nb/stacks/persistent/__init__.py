"""Persistent stack: data-bearing resources that are never destroyed."""

from __future__ import annotations

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings


def make_program(settings: Settings):
    def program() -> None:
        import pulumi_aws as aws

        b = aws.s3.Bucket("configs", bucket=config.get_bucket_name("configs", settings.environment), tags=config.get_tags(environment=settings.environment))
        pulumi.export("configs_bucket", b.bucket)
        pulumi.export("configs_bucket_arn", b.arn)

    return program
