"""CloudTrail: the audit trail, and the logs bucket's policy that lets CloudTrail write into it."""

from __future__ import annotations

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.persistent import s3

CLOUDTRAIL_PRINCIPAL = "cloudtrail.amazonaws.com"
TRAIL_KEY_PREFIX = config.TRAIL_KEY_PREFIX


def create_trail(settings: Settings, logs_bucket):
    """A multi-region trail with log file validation, writing to the logs bucket once its policy allows it."""
    import pulumi_aws as aws

    trail_name = config.get_resource_name("cloudtrail", settings.environment)
    account_id = aws.get_caller_identity_output().account_id
    partition = aws.get_partition_output().partition
    # The trail's ARN is known before the trail exists, so the policy can name it without a dependency cycle.
    trail_arn = pulumi.Output.concat(
        "arn:", partition, ":cloudtrail:", settings.aws_region, ":", account_id, ":trail/", trail_name
    )
    log_objects = pulumi.Output.concat(logs_bucket.arn, f"/{TRAIL_KEY_PREFIX}/AWSLogs/", account_id, "/*")
    # aws:SourceArn keeps other accounts' trails from writing here through the service principal.
    from_this_trail = {"aws:SourceArn": trail_arn}
    policy = (
        s3.tls_only_policy(logs_bucket)
        .allow_service(
            CLOUDTRAIL_PRINCIPAL,
            ["s3:GetBucketAcl"],
            [logs_bucket.arn],
            sid="CloudTrailAclCheck",
            condition={"StringEquals": from_this_trail},
        )
        .allow_service(
            CLOUDTRAIL_PRINCIPAL,
            ["s3:PutObject"],
            [log_objects],
            sid="CloudTrailWrite",
            condition={"StringEquals": {**from_this_trail, "s3:x-amz-acl": "bucket-owner-full-control"}},
        )
    )
    bucket_policy = s3.create_bucket_policy(s3.AUDIT_LOG_BUCKET, logs_bucket, policy)
    return aws.cloudtrail.Trail(
        "audit-trail",
        name=trail_name,
        s3_bucket_name=logs_bucket.bucket,
        s3_key_prefix=TRAIL_KEY_PREFIX,
        is_multi_region_trail=True,
        include_global_service_events=True,
        enable_log_file_validation=True,
        tags=config.get_tags(service="audit", environment=settings.environment),
        # CloudTrail checks at creation that it may write to the bucket.
        opts=pulumi.ResourceOptions(depends_on=[bucket_policy]),
    )
