"""The S3 buckets: encrypted, private, TLS-only, versioned where the data matters, with lifecycle rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import persistent_options
from tradai_nb.stacks.policy import PolicyBuilder

if TYPE_CHECKING:
    import pulumi_aws as aws

# A bucket has one policy; the logs bucket's also admits CloudTrail, so cloudtrail.py writes that one whole.
AUDIT_LOG_BUCKET = config.LOGS_BUCKET_KEY
# Parts of multipart uploads that never completed cost storage and are invisible in listings.
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7
# STANDARD_IA's minimum: objects moved earlier are billed as if kept 30 days anyway.
INFREQUENT_ACCESS_AFTER_DAYS = 30


@dataclass(frozen=True)
class BucketRules:
    """How a bucket keeps its objects: versioning and the lifecycle that bounds what it stores."""

    versioned: bool
    expire_after_days: int | None = None
    expire_old_versions_after_days: int | None = None
    infrequent_access_after_days: int | None = None
    # Objects under these key prefixes expire after so many days (instead of the whole bucket's expire_after_days).
    expire_prefixes: tuple[tuple[str, int], ...] = ()
    # S3 Object Lock: objects put with a retention cannot be overwritten or deleted until it ends.
    object_lock: bool = False


def data_bucket_rules(settings: Settings) -> dict[str, BucketRules]:
    """Rules per bucket key. Overwritten or deleted objects stay recoverable for the environment's retention
    period; configs keep their whole history (small, and it is the record of every configuration change)."""
    recovery_days = settings.log_retention_days
    return {
        "configs": BucketRules(versioned=True),
        "results": BucketRules(
            versioned=True,
            expire_old_versions_after_days=recovery_days,
            infrequent_access_after_days=INFREQUENT_ACCESS_AFTER_DAYS,
        ),
        "arcticdb": BucketRules(versioned=True, expire_old_versions_after_days=recovery_days),
        # Object Lock (it needs versioning) keeps uploaded audit records from being rewritten or deleted; each
        # upload sets its own governance-mode retention, so CloudTrail's files under their prefix are not locked.
        AUDIT_LOG_BUCKET: BucketRules(
            versioned=True,
            object_lock=True,
            expire_old_versions_after_days=1,
            expire_prefixes=(
                (f"{config.TRAIL_KEY_PREFIX}/", settings.log_retention_days),
                (f"{config.AUDIT_KEY_PREFIX}/", settings.audit_retention_days),
            ),
        ),
        "mlflow": BucketRules(versioned=True, expire_old_versions_after_days=recovery_days),
    }


def create_data_buckets(settings: Settings):
    """The five buckets of config.S3_BUCKETS, keyed like it; all but the logs bucket get their TLS-only policy here."""
    rules = data_bucket_rules(settings)
    buckets = {}
    for key in config.S3_BUCKETS:
        bucket = create_secure_bucket(
            key, config.get_bucket_name(key, settings.environment), rules[key], settings, service="storage"
        )
        if key != AUDIT_LOG_BUCKET:
            create_bucket_policy(key, bucket, tls_only_policy(bucket))
        buckets[key] = bucket
    return buckets


def create_secure_bucket(key: str, bucket_name: str, rules: BucketRules, settings: Settings, service: str):
    """One bucket with SSE-S3 encryption, all public access blocked, and its versioning and lifecycle rules."""
    import pulumi_aws as aws

    bucket = aws.s3.Bucket(
        f"{key}-bucket",
        bucket=bucket_name,
        object_lock_enabled=True if rules.object_lock else None,
        tags=config.get_tags(service=service, environment=settings.environment),
        opts=persistent_options(settings),
    )
    # SSE-S3 rather than KMS: no key policy for CloudTrail to satisfy and no per-request KMS cost on ArcticDB's
    # many small reads; the data is still encrypted at rest with AES-256.
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{key}-bucket-encryption",
        bucket=bucket.bucket,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    )
    aws.s3.BucketPublicAccessBlock(
        f"{key}-bucket-public-access-block",
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    lifecycle_opts = None
    if rules.versioned:
        versioning = aws.s3.BucketVersioning(
            f"{key}-bucket-versioning",
            bucket=bucket.bucket,
            versioning_configuration={"status": "Enabled"},
        )
        # Rules on noncurrent versions are rejected until versioning is on.
        lifecycle_opts = pulumi.ResourceOptions(depends_on=[versioning])
    aws.s3.BucketLifecycleConfiguration(
        f"{key}-bucket-lifecycle",
        bucket=bucket.bucket,
        rules=lifecycle_rules(rules),
        opts=lifecycle_opts,
    )
    return bucket


def lifecycle_rules(rules: BucketRules) -> list[aws.s3.BucketLifecycleConfigurationRuleArgsDict]:
    """The lifecycle rules of a bucket, each over the whole bucket."""
    whole_bucket: aws.s3.BucketLifecycleConfigurationRuleFilterArgsDict = {}
    lifecycle: list[aws.s3.BucketLifecycleConfigurationRuleArgsDict] = [
        {
            "id": "abort-incomplete-uploads",
            "status": "Enabled",
            "filter": whole_bucket,
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS},
        }
    ]
    if rules.expire_after_days is not None:
        lifecycle.append(
            {
                "id": "expire-objects",
                "status": "Enabled",
                "filter": whole_bucket,
                "expiration": {"days": rules.expire_after_days},
            }
        )
    for prefix, days in rules.expire_prefixes:
        lifecycle.append(
            {
                "id": f"expire-{prefix.strip('/')}",
                "status": "Enabled",
                "filter": {"prefix": prefix},
                "expiration": {"days": days},
            }
        )
    if rules.expire_old_versions_after_days is not None:
        lifecycle.append(
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": whole_bucket,
                "noncurrent_version_expiration": {"noncurrent_days": rules.expire_old_versions_after_days},
                # Once its versions are gone, a delete marker only slows listings down.
                "expiration": {"expired_object_delete_marker": True},
            }
        )
    if rules.infrequent_access_after_days is not None:
        lifecycle.append(
            {
                "id": "to-infrequent-access",
                "status": "Enabled",
                "filter": whole_bucket,
                "transitions": [{"days": rules.infrequent_access_after_days, "storage_class": "STANDARD_IA"}],
            }
        )
    return lifecycle


def tls_only_policy(bucket) -> PolicyBuilder:
    """A bucket policy refusing every request not made over TLS."""
    return PolicyBuilder().deny(
        ["s3:*"],
        [bucket.arn, bucket.arn.apply(lambda arn: f"{arn}/*")],
        sid="DenyInsecureTransport",
        condition={"Bool": {"aws:SecureTransport": "false"}},
    )


def create_bucket_policy(key: str, bucket, policy: PolicyBuilder):
    """Attach a bucket policy built with the policy builder."""
    import pulumi_aws as aws

    return aws.s3.BucketPolicy(f"{key}-bucket-policy", bucket=bucket.bucket, policy=policy.to_json())
