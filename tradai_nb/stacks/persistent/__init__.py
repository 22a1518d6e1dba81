"""Persistent stack: the data-bearing resources (S3, DynamoDB, ECR, Cognito, CodeArtifact, CloudTrail, Pulumi state)."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from tradai_nb.settings import Settings
from tradai_nb.stacks.persistent import state_backend


def make_program(settings: Settings) -> Callable[[], None]:
    state_backend.check_backend_url(settings)

    def program() -> None:
        from tradai_nb.stacks.persistent import cloudtrail, codeartifact, cognito, dynamodb, ecr, s3

        buckets = s3.create_data_buckets(settings)
        state_bucket = state_backend.create_state_bucket(settings)
        tables = dynamodb.create_tables(settings)
        repositories = ecr.create_repositories(settings)
        auth = cognito.create_auth(settings)
        package_domain, package_repository = codeartifact.create_package_repository(settings)
        trail = cloudtrail.create_trail(settings, buckets[s3.AUDIT_LOG_BUCKET])

        pulumi.export("bucket_names", {key: bucket.bucket for key, bucket in buckets.items()})
        pulumi.export("bucket_arns", {key: bucket.arn for key, bucket in buckets.items()})
        pulumi.export("state_bucket_name", state_bucket.bucket)
        pulumi.export("table_names", {key: table.name for key, table in tables.items()})
        pulumi.export("table_arns", {key: table.arn for key, table in tables.items()})
        pulumi.export("ecr_repository_urls", {image: repo.repository_url for image, repo in repositories.items()})
        pulumi.export("ecr_repository_arns", {image: repo.arn for image, repo in repositories.items()})
        pulumi.export("cognito_user_pool_id", auth.user_pool.id)
        pulumi.export("cognito_user_pool_arn", auth.user_pool.arn)
        pulumi.export("cognito_user_pool_endpoint", auth.user_pool.endpoint)
        pulumi.export("cognito_m2m_client_id", auth.m2m_client.id)
        pulumi.export("codeartifact_domain", package_domain.domain)
        pulumi.export("codeartifact_repository", package_repository.repository)
        pulumi.export("cloudtrail_arn", trail.arn)

    return program
