"""The persistent stack's storage: S3 buckets with their versioning, encryption, public access block, lifecycle (not
their policies: see REALIZERS); DynamoDB tables; ECR repositories with their lifecycle policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import Realizer, Sandbox, found_or_created, tags

# Planned (provider) keys whose API names are not the key with its first letter capitalised.
_API_KEYS = {"id": "ID", "sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"}


def _api_shape(value: Any) -> Any:
    """A planned input in the API's shape: camelCase keys as the S3 API spells them, whole floats as integers."""
    if isinstance(value, Mapping):
        return {_API_KEYS.get(k, k[:1].upper() + k[1:]): _api_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _bucket(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    s3 = sandbox.client("s3")
    name = inputs["bucket"]
    action = "exists"
    if name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": sandbox.settings.aws_region},
            ObjectLockEnabledForBucket=bool(inputs.get("objectLockEnabled")),
        )
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(inputs)})
        action = "created"
    region = sandbox.settings.aws_region
    return action, {
        "id": name,
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _bucket_setting(getter: str, putter: str, argument: str, shape: Any, *absent: str) -> Realizer:
    """A realizer of one bucket-level resource: put when the bucket has none of it yet (the getter raises one of
    absent, or returns no value for the setting), else exists. shape(inputs) is the put call's argument."""

    def realize(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        s3 = sandbox.client("s3")
        bucket = inputs["bucket"]

        def held() -> bool | None:
            found = getattr(s3, getter)(Bucket=bucket)
            return any(k != "ResponseMetadata" and v for k, v in found.items()) or None

        action, _ = found_or_created(
            held, lambda: bool(getattr(s3, putter)(Bucket=bucket, **{argument: shape(inputs)})), *absent
        )
        return action, {"id": bucket}

    return realize


_versioning = _bucket_setting(
    "get_bucket_versioning",
    "put_bucket_versioning",
    "VersioningConfiguration",
    lambda inputs: {"Status": inputs["versioningConfiguration"]["status"]},
)
_encryption = _bucket_setting(
    "get_bucket_encryption",
    "put_bucket_encryption",
    "ServerSideEncryptionConfiguration",
    lambda inputs: {"Rules": _api_shape(inputs["rules"])},
    "ServerSideEncryptionConfigurationNotFoundError",
)
_public_access_block = _bucket_setting(
    "get_public_access_block",
    "put_public_access_block",
    "PublicAccessBlockConfiguration",
    lambda inputs: _api_shape({k: bool(v) for k, v in inputs.items() if k != "bucket"}),
    "NoSuchPublicAccessBlockConfiguration",
)
_lifecycle = _bucket_setting(
    "get_bucket_lifecycle_configuration",
    "put_bucket_lifecycle_configuration",
    "LifecycleConfiguration",
    lambda inputs: {"Rules": _api_shape(inputs["rules"])},
    "NoSuchLifecycleConfiguration",
)


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    return schema + ([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "IndexName": index["name"],
        "KeySchema": [{"AttributeName": k["attributeName"], "KeyType": k["keyType"]} for k in index["keySchemas"]],
        "Projection": {"ProjectionType": index.get("projectionType", "ALL")},
    }


def _table(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    dynamodb = sandbox.client("dynamodb")
    name = inputs["name"]

    def create() -> dict[str, Any]:
        indexes = [_index(i) for i in inputs.get("globalSecondaryIndexes") or []]
        table: dict[str, Any] = dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
            ],
            KeySchema=_key_schema(inputs["hashKey"], inputs.get("rangeKey")),
            BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
            SSESpecification={"Enabled": bool((inputs.get("serverSideEncryption") or {}).get("enabled"))},
            DeletionProtectionEnabled=bool(inputs.get("deletionProtectionEnabled")),
            Tags=tags(inputs),
        )["TableDescription"]
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
            )
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            dynamodb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
        return table

    action, table = found_or_created(
        lambda: dynamodb.describe_table(TableName=name)["Table"], create, "ResourceNotFoundException"
    )
    # A table without a stream has no stream ARN: the provider's is then empty.
    return action, {"id": name, "name": name, "arn": table["TableArn"], "streamArn": table.get("LatestStreamArn", "")}


def _repository(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ecr = sandbox.client("ecr")
    name = inputs["name"]
    [encryption, *_] = inputs.get("encryptionConfigurations") or [{"encryptionType": "AES256"}]
    action, found = found_or_created(
        lambda: ecr.describe_repositories(repositoryNames=[name])["repositories"][0],
        lambda: ecr.create_repository(
            repositoryName=name,
            imageScanningConfiguration={"scanOnPush": bool(inputs["imageScanningConfiguration"]["scanOnPush"])},
            imageTagMutability=inputs.get("imageTagMutability", "MUTABLE"),
            imageTagMutabilityExclusionFilters=list(inputs.get("imageTagMutabilityExclusionFilters") or []),
            encryptionConfiguration={"encryptionType": encryption["encryptionType"]},
            tags=tags(inputs),
        )["repository"],
        "RepositoryNotFoundException",
    )
    return action, {
        "id": name,
        "name": name,
        "arn": found["repositoryArn"],
        "registryId": found["registryId"],
        "repositoryUrl": found["repositoryUri"],
    }


def _lifecycle_policy(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    ecr = sandbox.client("ecr")
    repository = inputs["repository"]
    action, found = found_or_created(
        lambda: ecr.get_lifecycle_policy(repositoryName=repository),
        lambda: ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=inputs["policy"]),
        "LifecyclePolicyNotFoundException",
    )
    return action, {"id": repository, "registryId": found["registryId"]}


# Bucket policies are not realized: each denies requests without TLS (aws:SecureTransport false), the sandbox answers
# plain HTTP only and enforces bucket policies, so a realized policy would shut every rehearsal out of its buckets.
REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:s3/bucket:Bucket": ("s3 bucket", _bucket),
    "aws:s3/bucketVersioning:BucketVersioning": ("s3 bucket versioning", _versioning),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "s3 bucket encryption",
        _encryption,
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("s3 public access block", _public_access_block),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("s3 bucket lifecycle", _lifecycle),
    "aws:dynamodb/table:Table": ("dynamodb table", _table),
    "aws:ecr/repository:Repository": ("ecr repository", _repository),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("ecr lifecycle policy", _lifecycle_policy),
}
