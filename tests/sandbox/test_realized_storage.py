"""Storage made from the local plan: every planned bucket (with its versioning, encryption, public access block and
lifecycle), table and repository (with its lifecycle policy) exists in the sandbox under its planned name with its
planned inputs, and the rehearsal state's ids, ARNs and exports name what the sandbox holds."""

from __future__ import annotations

import json


def test_realized__buckets_are_the_planned_ones_with_their_settings(sandbox, rehearsal):
    s3 = sandbox.session.client("s3")
    buckets = rehearsal.resources("aws:s3/bucket:Bucket")
    in_sandbox = {b["Name"] for b in s3.list_buckets()["Buckets"]}

    assert len(buckets) == 6
    for bucket in buckets:
        name = bucket["inputs"]["bucket"]
        assert bucket["id"] == name and name in in_sandbox
        assert bucket["outputs"]["arn"] == f"arn:aws:s3:::{name}"
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        assert tags["Service"] == bucket["inputs"]["tags"]["Service"] and tags["Purpose"] == "rehearsal"
        lock = bucket["inputs"].get("objectLockEnabled", False)
        if lock:
            assert (
                s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]["ObjectLockEnabled"]
                == "Enabled"
            )
    for versioning in rehearsal.resources("aws:s3/bucketVersioning:BucketVersioning"):
        status = s3.get_bucket_versioning(Bucket=versioning["inputs"]["bucket"]).get("Status")
        assert status == versioning["inputs"]["versioningConfiguration"]["status"]
    for block in rehearsal.resources("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"):
        config = s3.get_public_access_block(Bucket=block["inputs"]["bucket"])["PublicAccessBlockConfiguration"]
        assert config["BlockPublicPolicy"] is block["inputs"]["blockPublicPolicy"]
        assert config["RestrictPublicBuckets"] is block["inputs"]["restrictPublicBuckets"]
    for encryption in rehearsal.resources(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        [rule] = s3.get_bucket_encryption(Bucket=encryption["inputs"]["bucket"])["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        planned = encryption["inputs"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == planned
    for lifecycle in rehearsal.resources("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"):
        rules = s3.get_bucket_lifecycle_configuration(Bucket=lifecycle["inputs"]["bucket"])["Rules"]
        assert sorted(r["ID"] for r in rules) == sorted(r["id"] for r in lifecycle["inputs"]["rules"])
    exports = rehearsal.exports("persistent")
    assert set(exports["bucket_names"].values()) <= in_sandbox


def test_realized__tables_have_their_planned_keys_indexes_and_ttl(sandbox, rehearsal):
    dynamodb = sandbox.session.client("dynamodb")
    tables = rehearsal.resources("aws:dynamodb/table:Table")

    assert len(tables) == 12
    for table in tables:
        inputs = table["inputs"]
        described = dynamodb.describe_table(TableName=inputs["name"])["Table"]
        assert table["outputs"]["arn"] == described["TableArn"]
        keys = {k["KeyType"]: k["AttributeName"] for k in described["KeySchema"]}
        assert keys == {"HASH": inputs["hashKey"], **({"RANGE": inputs["rangeKey"]} if "rangeKey" in inputs else {})}
        indexes = {i["IndexName"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i["name"] for i in inputs.get("globalSecondaryIndexes", [])}
        assert described["BillingModeSummary"]["BillingMode"] == inputs["billingMode"]
        ttl = dynamodb.describe_time_to_live(TableName=inputs["name"])["TimeToLiveDescription"]
        if (inputs.get("ttl") or {}).get("enabled"):
            assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": inputs["ttl"]["attributeName"]}
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_realized__repositories_and_their_lifecycle_policies_are_the_planned_ones(sandbox, rehearsal):
    ecr = sandbox.session.client("ecr")
    repositories = rehearsal.resources("aws:ecr/repository:Repository")
    described = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}

    assert len(repositories) == 24
    for repository in repositories:
        inputs, outputs = repository["inputs"], repository["outputs"]
        found = described[inputs["name"]]
        assert outputs["arn"] == found["repositoryArn"] and outputs["repositoryUrl"] == found["repositoryUri"]
        assert found["imageTagMutability"] == inputs["imageTagMutability"]
        assert found["imageScanningConfiguration"]["scanOnPush"] is True
    for policy in rehearsal.resources("aws:ecr/lifecyclePolicy:LifecyclePolicy"):
        text = ecr.get_lifecycle_policy(repositoryName=policy["inputs"]["repository"])["lifecyclePolicyText"]
        assert json.loads(text) == json.loads(policy["inputs"]["policy"])
    exports = rehearsal.exports("persistent")
    assert set(exports["ecr_repository_arns"].values()) == {r["repositoryArn"] for r in described.values()}
