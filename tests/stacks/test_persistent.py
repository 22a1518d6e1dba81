"""The persistent stack under the offline plan: inventory, security promises, environments, tags, exports."""

from __future__ import annotations

import json

import pytest

from tests.stacks.conftest import is_taggable, resources_of
from tradai_nb import config
from tradai_nb.engine.plan import plan
from tradai_nb.errors import SettingsError
from tradai_nb.settings import load_settings
from tradai_nb.stacks.persistent import dynamodb, ecr, make_program

ENVIRONMENTS = list(config.ENVIRONMENTS)
BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
USER_POOL = "aws:cognito/userPool:UserPool"
DATA_TYPES = (BUCKET, TABLE, ECR_REPOSITORY, USER_POOL, "aws:codeartifact/domain:Domain",
              "aws:codeartifact/repository:Repository")
CONTRACT_KEYS = {
    "bucket_names", "bucket_arns", "state_bucket_name", "table_names", "table_arns", "ecr_repository_urls",
    "ecr_repository_arns", "cognito_user_pool_id", "cognito_user_pool_arn", "cognito_user_pool_endpoint",
    "cognito_m2m_client_id", "codeartifact_domain", "codeartifact_repository", "cloudtrail_arn",
}
VERSIONED_BUCKETS = {"configs", "results", "arcticdb", "mlflow", config.STATE_BUCKET_KEY}


def _by_bucket(plan_result, type_token: str) -> dict[str, dict]:
    """Inputs of a bucket sub-resource type, keyed by the bucket name they point at."""
    rows = resources_of(plan_result, "persistent", type_token)
    return {inputs["bucket"]: inputs for inputs in rows["inputs"]}


def _bucket_name(key: str, environment: str) -> str:
    return config.get_bucket_name(key, environment)


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_inventory__matches_the_estate_table(plan_of, environment):
    counts = resources_of(plan_of(environment), "persistent")["type"].value_counts().to_dict()

    assert {token: counts.get(token, 0) for token in (
        BUCKET, TABLE, ECR_REPOSITORY, USER_POOL, "aws:cognito/userPoolClient:UserPoolClient",
        "aws:codeartifact/domain:Domain", "aws:codeartifact/repository:Repository", "aws:cloudtrail/trail:Trail",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    )} == {
        BUCKET: len(config.S3_BUCKETS) + 1, TABLE: 12, ECR_REPOSITORY: 24, USER_POOL: 1,
        "aws:cognito/userPoolClient:UserPoolClient": 1, "aws:codeartifact/domain:Domain": 1,
        "aws:codeartifact/repository:Repository": 1, "aws:cloudtrail/trail:Trail": 1,
        "aws:ecr/lifecyclePolicy:LifecyclePolicy": 24,
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_buckets__have_config_names_including_the_state_bucket(plan_of, environment):
    names = {inputs["bucket"] for inputs in resources_of(plan_of(environment), "persistent", BUCKET)["inputs"]}

    assert names == {_bucket_name(key, environment) for key in (*config.S3_BUCKETS, config.STATE_BUCKET_KEY)}


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_every_bucket__is_encrypted_and_blocks_public_access(plan_of, environment):
    plan_result = plan_of(environment)
    buckets = {inputs["bucket"] for inputs in resources_of(plan_result, "persistent", BUCKET)["inputs"]}
    encryption = _by_bucket(plan_result, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    public_access = _by_bucket(plan_result, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")

    assert set(encryption) == buckets
    assert set(public_access) == buckets
    for name in buckets:
        assert encryption[name]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256", name
        flags = {k: public_access[name][k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                     "restrictPublicBuckets")}
        assert all(flags.values()), (name, flags)


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_every_bucket__refuses_requests_without_tls(plan_of, environment):
    plan_result = plan_of(environment)
    policies = _by_bucket(plan_result, "aws:s3/bucketPolicy:BucketPolicy")

    assert set(policies) == {_bucket_name(k, environment) for k in (*config.S3_BUCKETS, config.STATE_BUCKET_KEY)}
    for name, inputs in policies.items():
        statements = json.loads(inputs["policy"])["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny == [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": ["s3:*"],
            "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }], name


def test_versioning__on_for_every_data_bucket_and_for_the_logs_bucket_object_lock_needs(plan_of):
    versioning = _by_bucket(plan_of("dev"), "aws:s3/bucketVersioning:BucketVersioning")

    assert set(versioning) == {_bucket_name(key, "dev") for key in (*VERSIONED_BUCKETS, "logs")}
    assert {v["versioningConfiguration"]["status"] for v in versioning.values()} == {"Enabled"}


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"])
def test_logs_bucket__has_object_lock_and_only_it(plan_of, environment):
    buckets = _by_bucket(plan_of(environment), "aws:s3/bucket:Bucket")

    locked = {name for name, inputs in buckets.items() if inputs.get("objectLockEnabled")}
    assert locked == {_bucket_name("logs", environment)}


@pytest.mark.parametrize(("environment", "retention_days", "audit_days"),
                         [("dev", 7, 90), ("staging", 30, 365), ("prod", 90, 2557)], ids=["dev", "staging", "prod"])
def test_lifecycle__logs_and_old_results_expire_after_the_log_retention_audit_records_after_theirs(
        plan_of, environment, retention_days, audit_days):
    lifecycle = _by_bucket(plan_of(environment), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    logs_rules = {r["id"]: r for r in lifecycle[_bucket_name("logs", environment)]["rules"]}
    results_rules = {r["id"]: r for r in lifecycle[_bucket_name("results", environment)]["rules"]}

    assert logs_rules["expire-cloudtrail"] == {"id": "expire-cloudtrail", "status": "Enabled",
                                               "filter": {"prefix": "cloudtrail/"},
                                               "expiration": {"days": retention_days}}
    assert logs_rules["expire-audit"]["filter"] == {"prefix": "audit/"}
    assert logs_rules["expire-audit"]["expiration"] == {"days": audit_days}
    assert "expire-objects" not in logs_rules
    assert results_rules["expire-old-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": retention_days}
    assert results_rules["to-infrequent-access"]["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    assert "expire-objects" not in results_rules


def test_lifecycle__every_bucket_aborts_incomplete_uploads_and_keeps_configs_history(plan_of):
    lifecycle = _by_bucket(plan_of("prod"), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")

    assert len(lifecycle) == len(config.S3_BUCKETS) + 1
    for name, inputs in lifecycle.items():
        rules = {r["id"]: r for r in inputs["rules"]}
        assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}, name
    assert [r["id"] for r in lifecycle[_bucket_name("configs", "prod")]["rules"]] == ["abort-incomplete-uploads"]


def test_lifecycle__of_a_versioned_bucket_waits_for_its_versioning(plan_of):
    resources = resources_of(plan_of("dev"), "persistent")
    urn_of = dict(zip(resources["name"], resources["urn"]))
    lifecycle = resources.set_index("name")

    for key in VERSIONED_BUCKETS:
        assert urn_of[f"{key}-bucket-versioning"] in lifecycle.loc[f"{key}-bucket-lifecycle", "dependencies"], key


def test_cloudtrail__writes_to_the_logs_bucket_after_its_policy_admits_it(plan_of):
    resources = resources_of(plan_of("prod"), "persistent")
    trail = resources[resources["type"] == "aws:cloudtrail/trail:Trail"].iloc[0]
    policy = resources[resources["name"] == "logs-bucket-policy"].iloc[0]
    trail_name = config.get_resource_name("cloudtrail", "prod")
    trail_arn = f"arn:aws:cloudtrail:eu-central-1:000000000000:trail/{trail_name}"
    statements = {s["Sid"]: s for s in json.loads(policy["inputs"]["policy"])["Statement"]}

    assert policy["urn"] in trail["dependencies"]
    assert trail["inputs"]["s3BucketName"] == _bucket_name("logs", "prod")
    assert trail["inputs"]["isMultiRegionTrail"] and trail["inputs"]["enableLogFileValidation"]
    assert statements["CloudTrailWrite"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert statements["CloudTrailWrite"]["Resource"] == [
        f"arn:aws:s3:::{_bucket_name('logs', 'prod')}/{trail['inputs']['s3KeyPrefix']}/AWSLogs/000000000000/*"]
    assert statements["CloudTrailWrite"]["Condition"]["StringEquals"] == {
        "aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}
    assert statements["CloudTrailAclCheck"]["Action"] == ["s3:GetBucketAcl"]
    assert statements["CloudTrailAclCheck"]["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}


@pytest.mark.parametrize(("environment", "recovery"), [("local", False), ("dev", False), ("staging", True),
                                                       ("prod", True)], ids=ENVIRONMENTS)
def test_tables__on_demand_encrypted_with_point_in_time_recovery_where_data_is_protected(plan_of, environment, recovery):
    tables = resources_of(plan_of(environment), "persistent", TABLE)["inputs"]

    assert {t["name"] for t in tables} == {config.get_table_name(k, environment) for k in config.DYNAMODB_TABLES}
    for table in tables:
        assert table["billingMode"] == "PAY_PER_REQUEST", table["name"]
        assert table["serverSideEncryption"] == {"enabled": True}, table["name"]
        assert table["pointInTimeRecovery"] == {"enabled": recovery}, table["name"]
        assert table["deletionProtectionEnabled"] is recovery, table["name"]


def test_tables__define_exactly_the_attributes_their_keys_and_indexes_use(plan_of):
    # DynamoDB rejects a table whose attribute definitions include one no key or index uses.
    for table in resources_of(plan_of("dev"), "persistent", TABLE)["inputs"]:
        defined = {a["name"] for a in table["attributes"]}
        used = {table["hashKey"], table.get("rangeKey")} - {None}
        for index in table.get("globalSecondaryIndexes") or []:
            used |= {k["attributeName"] for k in index["keySchemas"]}
        assert defined == used, table["name"]


@pytest.mark.parametrize(("table_key", "index", "keys"), [
    ("backtest_jobs", "status-index", ["status", "created_at"]),
    ("backtest_jobs", "strategy-index", ["strategy_id", "created_at"]),
    ("order_history", "strategy-index", ["strategy_id", "created_at"]),
    ("model_registry", "stage-index", ["stage", "updated_at"]),
], ids=["backtest-jobs-by-status", "backtest-jobs-by-strategy", "orders-by-strategy", "models-by-stage"])
def test_tables__have_the_indexes_the_platform_queries(plan_of, table_key, index, keys):
    tables = {t["name"]: t for t in resources_of(plan_of("dev"), "persistent", TABLE)["inputs"]}
    indexes = {i["name"]: i for i in tables[config.get_table_name(table_key, "dev")]["globalSecondaryIndexes"]}

    assert [k["attributeName"] for k in indexes[index]["keySchemas"]] == keys
    assert indexes[index]["projectionType"] == "ALL"


def test_table_schemas__cover_exactly_the_configured_tables():
    assert set(dynamodb.TABLE_SCHEMAS) == set(config.DYNAMODB_TABLES)


def test_ecr__repositories_scan_on_push_and_keep_release_tags_immutable(plan_of):
    repositories = resources_of(plan_of("dev"), "persistent", ECR_REPOSITORY)["inputs"]

    assert sorted(r["name"] for r in repositories) == sorted(config.get_ecr_repo_name(r) for r in config.ECR_REPOSITORIES)
    for repository in repositories:
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
        filters = repository["imageTagMutabilityExclusionFilters"]
        assert len(filters) <= 5  # ECR's limit
        assert {f["filter"] for f in filters} == {"latest", *config.ENVIRONMENTS}


def test_ecr__each_repository_expires_untagged_images_and_keeps_the_newest(plan_of):
    policies = {p["repository"]: json.loads(p["policy"])
                for p in resources_of(plan_of("dev"), "persistent", "aws:ecr/lifecyclePolicy:LifecyclePolicy")["inputs"]}

    assert set(policies) == {config.get_ecr_repo_name(r) for r in config.ECR_REPOSITORIES}
    rules = sorted(next(iter(policies.values()))["rules"], key=lambda rule: rule["rulePriority"])
    assert rules[0]["selection"]["tagStatus"] == "untagged"
    # ECR only accepts a policy whose rule over any tag status has the highest priority number.
    assert rules[-1]["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan",
                                      "countNumber": ecr.KEEP_LAST_IMAGES}


def test_cognito__m2m_client_uses_client_credentials_with_the_api_scopes(plan_of):
    resources = resources_of(plan_of("prod"), "persistent")
    client = resources[resources["type"] == "aws:cognito/userPoolClient:UserPoolClient"].iloc[0]["inputs"]
    server = resources[resources["type"] == "aws:cognito/resourceServer:ResourceServer"].iloc[0]["inputs"]
    domains = resources[resources["type"] == "aws:cognito/userPoolDomain:UserPoolDomain"]
    pool_id = plan_of("prod").exports["persistent"]["cognito_user_pool_id"]

    assert client["allowedOauthFlows"] == ["client_credentials"]
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["generateSecret"] is True
    assert client["allowedOauthScopes"] == [f"{server['identifier']}/{s['scopeName']}" for s in server["scopes"]]
    assert client["userPoolId"] == server["userPoolId"] == pool_id
    assert len(domains) == 1 and domains.iloc[0]["inputs"]["userPoolId"] == pool_id


def test_codeartifact__repository_lives_in_the_domain_and_proxies_pypi(plan_of):
    resources = resources_of(plan_of("dev"), "persistent")
    domain = resources[resources["type"] == "aws:codeartifact/domain:Domain"].iloc[0]["inputs"]
    repository = resources[resources["type"] == "aws:codeartifact/repository:Repository"].iloc[0]["inputs"]

    assert repository["domain"] == domain["domain"]
    assert repository["externalConnections"] == {"externalConnectionName": "public:pypi"}


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_every_taggable_resource__carries_the_standard_tags(plan_of, environment):
    resources = resources_of(plan_of(environment), "persistent")
    taggable = resources[resources["type"].map(is_taggable)]

    assert len(taggable) >= 6 + 12 + 24 + 1 + 2 + 1
    for row in taggable.itertuples():
        tags = row.inputs.get("tags") or {}
        assert {k: tags.get(k) for k in ("Project", "Environment", "ManagedBy")} == {
            "Project": "tradai", "Environment": environment, "ManagedBy": "pulumi"}, row.name
        assert tags.get("Service"), row.name


@pytest.mark.parametrize(("environment", "protected"), [("local", False), ("dev", False), ("staging", True),
                                                        ("prod", True)], ids=ENVIRONMENTS)
def test_data_resources__protected_only_in_staging_and_prod(plan_of, environment, protected):
    resources = resources_of(plan_of(environment), "persistent")
    data = resources[resources["type"].isin(DATA_TYPES)]

    assert len(data) == 6 + 12 + 24 + 1 + 2
    assert set(data["protect"]) == {protected}
    assert not resources[~resources["type"].isin(DATA_TYPES)]["protect"].any()


def test_user_pool__deletion_protection_follows_the_environment(plan_of):
    def protection(environment: str) -> str:
        return resources_of(plan_of(environment), "persistent", USER_POOL).iloc[0]["inputs"]["deletionProtection"]

    assert (protection("dev"), protection("prod")) == ("INACTIVE", "ACTIVE")


@pytest.mark.parametrize("environment", ["dev", "prod"], ids=["dev", "prod"])
def test_plan__is_the_same_on_every_run(environment):
    settings = load_settings(environment)

    def persistent_json() -> str:
        return json.dumps(plan(settings, ["persistent"]).to_dict()["stacks"], default=str)

    assert persistent_json() == persistent_json()


@pytest.mark.parametrize("environment", ENVIRONMENTS, ids=ENVIRONMENTS)
def test_exports__match_the_output_contract(plan_of, environment):
    exports = plan_of(environment).exports["persistent"]
    account, region = "000000000000", "eu-central-1"

    assert set(exports) == CONTRACT_KEYS
    assert exports["bucket_names"] == {k: _bucket_name(k, environment) for k in config.S3_BUCKETS}
    assert exports["bucket_arns"] == {k: f"arn:aws:s3:::{_bucket_name(k, environment)}" for k in config.S3_BUCKETS}
    assert exports["state_bucket_name"] == _bucket_name(config.STATE_BUCKET_KEY, environment)
    assert exports["table_names"] == {k: config.get_table_name(k, environment) for k in config.DYNAMODB_TABLES}
    assert set(exports["table_arns"]) == set(config.DYNAMODB_TABLES)
    assert exports["ecr_repository_urls"] == {
        r: f"{account}.dkr.ecr.{region}.amazonaws.com/{config.get_ecr_repo_name(r)}" for r in config.ECR_REPOSITORIES}
    assert set(exports["ecr_repository_arns"]) == set(config.ECR_REPOSITORIES)
    pool_id = exports["cognito_user_pool_id"]
    assert pool_id.startswith(f"{region}_")
    assert exports["cognito_user_pool_arn"] == f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}"
    assert exports["cognito_user_pool_endpoint"] == f"cognito-idp.{region}.amazonaws.com/{pool_id}"
    assert exports["codeartifact_domain"] == config.get_resource_name("packages", environment)
    assert exports["cloudtrail_arn"].endswith(f":trail/{config.get_resource_name('cloudtrail', environment)}")


def test_make_program__refuses_an_s3_backend_that_is_not_the_state_bucket():
    settings = load_settings("dev", overrides={"pulumi_backend_url": "s3://someone-elses-bucket"})

    with pytest.raises(SettingsError) as excinfo:
        make_program(settings)

    assert excinfo.value.key == "pulumi_backend_url"
    assert "s3://tradai-pulumi-state-dev" in str(excinfo.value)


@pytest.mark.parametrize("backend_url", ["file://.tradai/state", "s3://tradai-pulumi-state-dev/team-a"],
                         ids=["file-backend", "state-bucket-with-prefix"])
def test_make_program__accepts_a_file_backend_or_the_state_bucket(backend_url):
    settings = load_settings("dev", overrides={"pulumi_backend_url": backend_url})

    assert callable(make_program(settings))
