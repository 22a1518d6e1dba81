"""The persistent stack's Cognito user pool, its resource server, machine-to-machine client and hosted domain, the
audit trail, and the foundation stack's rotation of the database's managed secret, as planned."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradai_nb.sandbox.realizers.base import (
    Realizer,
    Sandbox,
    api_shape,
    first,
    found_or_created,
    tag_map,
    tags,
)

# Planned user pool inputs that pass to create_user_pool as they are (in the API's shape). The MFA setting is set
# after the pool is made, as the provider does: CreateUserPool cannot turn on software-token MFA.
_POOL_INPUTS = (
    "accountRecoverySetting",
    "adminCreateUserConfig",
    "aliasAttributes",
    "autoVerifiedAttributes",
    "deletionProtection",
    "emailConfiguration",
    "usernameAttributes",
    "userPoolAddOns",
    "verificationMessageTemplate",
)


def _user_pool(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cognito = sandbox.client("cognito-idp")
    name = inputs["name"]

    def find() -> str | None:
        pages = cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
        held = first((p for page in pages for p in page["UserPools"]), lambda p: p["Name"] == name)
        return held["Id"] if held else None

    def create() -> str:
        arguments = api_shape({k: inputs[k] for k in _POOL_INPUTS if k in inputs})
        if inputs.get("passwordPolicy"):
            arguments["Policies"] = {"PasswordPolicy": api_shape(inputs["passwordPolicy"])}
        pool_id = str(
            cognito.create_user_pool(PoolName=name, UserPoolTags=tag_map(inputs), **arguments)["UserPool"]["Id"]
        )
        if inputs.get("mfaConfiguration"):
            mfa = {"MfaConfiguration": inputs["mfaConfiguration"]}
            if inputs.get("softwareTokenMfaConfiguration"):
                mfa["SoftwareTokenMfaConfiguration"] = api_shape(inputs["softwareTokenMfaConfiguration"])
            cognito.set_user_pool_mfa_config(UserPoolId=pool_id, **mfa)
        return pool_id

    action, pool_id = found_or_created(find, create)
    arn = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
    endpoint = f"cognito-idp.{sandbox.settings.aws_region}.amazonaws.com/{pool_id}"
    return action, {"id": pool_id, "arn": arn, "name": name, "endpoint": endpoint}


def _resource_server(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cognito = sandbox.client("cognito-idp")
    pool, identifier = inputs["userPoolId"], inputs["identifier"]
    action, _ = found_or_created(
        lambda: cognito.describe_resource_server(UserPoolId=pool, Identifier=identifier)["ResourceServer"],
        lambda: cognito.create_resource_server(
            UserPoolId=pool, Identifier=identifier, Name=inputs["name"], Scopes=api_shape(inputs.get("scopes") or [])
        )["ResourceServer"],
        "ResourceNotFoundException",
    )
    scopes = [f"{identifier}/{s['scopeName']}" for s in inputs.get("scopes") or []]
    # The provider's id of a resource server is its pool's id and its identifier.
    return action, {
        "id": f"{pool}|{identifier}",
        "identifier": identifier,
        "name": inputs["name"],
        "userPoolId": pool,
        "scopeIdentifiers": scopes,
    }


# Planned client inputs create_user_pool_client takes (in the API's shape) besides its name and pool.
_CLIENT_INPUTS = (
    "accessTokenValidity",
    "allowedOauthFlows",
    "allowedOauthFlowsUserPoolClient",
    "allowedOauthScopes",
    "callbackUrls",
    "enableTokenRevocation",
    "explicitAuthFlows",
    "generateSecret",
    "idTokenValidity",
    "logoutUrls",
    "preventUserExistenceErrors",
    "refreshTokenValidity",
    "supportedIdentityProviders",
    "tokenValidityUnits",
)


def _user_pool_client(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The client of the planned name in its pool. Where the plan has the client generate a secret, the sandbox's
    secret stays in the sandbox: it is not among the outputs (the plan gives none either), so it never reaches the
    rehearsal state, the seed rows or a log."""
    cognito = sandbox.client("cognito-idp")
    pool, name = inputs["userPoolId"], inputs["name"]

    def find() -> str | None:
        pages = cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool, MaxResults=60)
        held = first((c for page in pages for c in page["UserPoolClients"]), lambda c: c["ClientName"] == name)
        return held["ClientId"] if held else None

    def create() -> str:
        arguments = api_shape({k: inputs[k] for k in _CLIENT_INPUTS if k in inputs})
        return str(
            cognito.create_user_pool_client(UserPoolId=pool, ClientName=name, **arguments)["UserPoolClient"]["ClientId"]
        )

    action, client_id = found_or_created(find, create)
    return action, {"id": client_id, "name": name, "userPoolId": pool}


def _user_pool_domain(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    cognito = sandbox.client("cognito-idp")
    domain, pool = inputs["domain"], inputs["userPoolId"]
    action, _ = found_or_created(
        lambda: cognito.describe_user_pool_domain(Domain=domain)["DomainDescription"].get("UserPoolId"),
        lambda: cognito.create_user_pool_domain(Domain=domain, UserPoolId=pool),
    )
    return action, {"id": domain, "domain": domain, "userPoolId": pool}


# Planned trail input -> create_trail argument.
_TRAIL_ARGUMENTS = {
    "s3BucketName": "S3BucketName",
    "s3KeyPrefix": "S3KeyPrefix",
    "includeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "isMultiRegionTrail": "IsMultiRegionTrail",
    "isOrganizationTrail": "IsOrganizationTrail",
    "enableLogFileValidation": "EnableLogFileValidation",
    "kmsKeyId": "KmsKeyId",
    "snsTopicName": "SnsTopicName",
    "cloudWatchLogsGroupArn": "CloudWatchLogsLogGroupArn",
    "cloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
}


def _trail(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The trail into its planned bucket (realized before it). The bucket's policy, which lets CloudTrail write and
    denies plain HTTP, is not realized (see storage), and moto's CreateTrail asks only that the bucket exists."""
    cloudtrail = sandbox.client("cloudtrail")
    name = inputs["name"]

    def create() -> dict[str, Any]:
        arguments = {api: inputs[key] for key, api in _TRAIL_ARGUMENTS.items() if key in inputs}
        created: dict[str, Any] = cloudtrail.create_trail(Name=name, TagsList=tags(inputs), **arguments)
        # A new trail does not log; the provider starts it unless the plan says otherwise.
        if inputs.get("enableLogging", True):
            cloudtrail.start_logging(Name=created["TrailARN"])
        return created

    action, found = found_or_created(lambda: cloudtrail.get_trail(Name=name)["Trail"], create, "TrailNotFoundException")
    # The provider's id of a trail is its ARN.
    return action, {"id": found["TrailARN"], "arn": found["TrailARN"], "name": name}


def _secret_rotation(sandbox: Sandbox, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The rotation schedule of the database's managed secret (RDS's, made with the database). The plan names no
    rotation Lambda, so moto invokes none: it records the schedule and moves the current label to a new version of the
    same value. (A rotation by a Lambda would not be realized: moto would run the function in Docker.)"""
    secrets = sandbox.client("secretsmanager")
    secret = inputs["secretId"]
    rules = api_shape(inputs.get("rotationRules") or {})

    def find() -> str | None:
        held = secrets.describe_secret(SecretId=secret)
        scheduled = held.get("RotationEnabled") and held.get("RotationRules", {}) == rules
        return str(held["ARN"]) if scheduled else None

    def create() -> str:
        return str(
            secrets.rotate_secret(
                SecretId=secret, RotationRules=rules, RotateImmediately=bool(inputs.get("rotateImmediately", True))
            )["ARN"]
        )

    action, arn = found_or_created(find, create)
    # The provider's id of a rotation is its secret's.
    return action, {"id": arn, "secretId": arn, "rotationEnabled": True}


# Not realized: the CodeArtifact domain and repository of the persistent stack, as moto 5.2.5 has no CodeArtifact.
REALIZERS: dict[str, tuple[str, Realizer]] = {
    "aws:cognito/userPool:UserPool": ("cognito user pool", _user_pool),
    "aws:cognito/resourceServer:ResourceServer": ("cognito resource server", _resource_server),
    "aws:cognito/userPoolClient:UserPoolClient": ("cognito user pool client", _user_pool_client),
    "aws:cognito/userPoolDomain:UserPoolDomain": ("cognito user pool domain", _user_pool_domain),
    "aws:cloudtrail/trail:Trail": ("cloudtrail trail", _trail),
    "aws:secretsmanager/secretRotation:SecretRotation": ("secret rotation", _secret_rotation),
}
