"""Persistent stack (placeholder exporting the agreed contract until the real program lands)."""

from __future__ import annotations

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings


def make_program(settings: Settings):
    env = settings.environment

    def program() -> None:
        buckets = {k: config.get_bucket_name(k, env) for k in config.S3_BUCKETS}
        pulumi.export("bucket_names", buckets)
        pulumi.export("bucket_arns", {k: f"arn:aws:s3:::{v}" for k, v in buckets.items()})
        pulumi.export("state_bucket_name", config.get_bucket_name(config.STATE_BUCKET_KEY, env))
        tables = {k: config.get_table_name(k, env) for k in config.DYNAMODB_TABLES}
        pulumi.export("table_names", tables)
        pulumi.export("table_arns", {k: f"arn:aws:dynamodb:eu-central-1:000000000000:table/{v}" for k, v in tables.items()})
        repos = {r: f"000000000000.dkr.ecr.eu-central-1.amazonaws.com/{config.get_ecr_repo_name(r)}" for r in config.ECR_REPOSITORIES}
        pulumi.export("ecr_repository_urls", repos)
        pulumi.export("ecr_repository_arns", {r: f"arn:aws:ecr:eu-central-1:000000000000:repository/{config.get_ecr_repo_name(r)}" for r in config.ECR_REPOSITORIES})
        pulumi.export("cognito_user_pool_id", "eu-central-1_placeholder")
        pulumi.export("cognito_user_pool_arn", "arn:aws:cognito-idp:eu-central-1:000000000000:userpool/eu-central-1_placeholder")
        pulumi.export("cognito_user_pool_endpoint", "cognito-idp.eu-central-1.amazonaws.com/eu-central-1_placeholder")
        pulumi.export("cognito_m2m_client_id", "placeholder-client")
        pulumi.export("codeartifact_domain", "tradai")
        pulumi.export("codeartifact_repository", "tradai-python")
        pulumi.export("cloudtrail_arn", "arn:aws:cloudtrail:eu-central-1:000000000000:trail/placeholder")

    return program
