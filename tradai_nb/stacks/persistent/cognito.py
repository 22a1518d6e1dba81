"""Cognito: the user pool, the API's resource server and scopes, and the machine-to-machine app client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import persistent_options

if TYPE_CHECKING:
    import pulumi_aws as aws

API_SCOPES = {
    "read": "read market data, strategies, backtest results",
    "write": "submit backtests, register strategies and models",
}
ACCESS_TOKEN_VALIDITY_MINUTES = 60


@dataclass(frozen=True)
class CognitoAuth:
    """The resources other stacks read: the user pool and the M2M client."""

    user_pool: aws.cognito.UserPool
    m2m_client: aws.cognito.UserPoolClient


def create_auth(settings: Settings) -> CognitoAuth:
    """The user pool (admin-created users only, TOTP MFA), and an M2M client on the client-credentials flow."""
    import pulumi_aws as aws

    env = settings.environment
    user_pool = aws.cognito.UserPool(
        "user-pool",
        name=config.get_resource_name("users", env),
        username_attributes=["email"],
        auto_verified_attributes=["email"],
        # Operators are invited; nobody signs themselves up to a trading platform.
        admin_create_user_config={"allow_admin_create_user_only": True},
        password_policy={
            "minimum_length": 14,
            "require_lowercase": True,
            "require_uppercase": True,
            "require_numbers": True,
            "require_symbols": True,
            "temporary_password_validity_days": 3,
        },
        mfa_configuration="ON",
        software_token_mfa_configuration={"enabled": True},
        account_recovery_setting={"recovery_mechanisms": [{"name": "verified_email", "priority": 1}]},
        deletion_protection="ACTIVE" if settings.protect_data else "INACTIVE",
        tags=config.get_tags(service="auth", environment=env),
        opts=persistent_options(settings),
    )
    # The client-credentials flow gets its tokens from the pool's OAuth endpoint, which only a domain provides.
    aws.cognito.UserPoolDomain(
        "user-pool-domain", domain=config.get_resource_name("auth", env), user_pool_id=user_pool.id
    )
    resource_server = aws.cognito.ResourceServer(
        "api-resource-server",
        identifier=config.get_resource_name("api", env),
        name=config.get_resource_name("api", env),
        user_pool_id=user_pool.id,
        scopes=[{"scope_name": name, "scope_description": text} for name, text in API_SCOPES.items()],
    )
    m2m_client = aws.cognito.UserPoolClient(
        "m2m-client",
        name=config.get_resource_name("m2m", env),
        user_pool_id=user_pool.id,
        generate_secret=True,
        allowed_oauth_flows=["client_credentials"],
        allowed_oauth_flows_user_pool_client=True,
        allowed_oauth_scopes=resource_server.identifier.apply(
            lambda identifier: [f"{identifier}/{scope}" for scope in API_SCOPES]
        ),
        supported_identity_providers=["COGNITO"],
        access_token_validity=ACCESS_TOKEN_VALIDITY_MINUTES,
        token_validity_units={"access_token": "minutes"},
        enable_token_revocation=True,
        prevent_user_existence_errors="ENABLED",
    )
    return CognitoAuth(user_pool, m2m_client)
