"""The one place that makes boto3 sessions: real credential chain for team environments, the sandbox for local."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from tradai_nb import troubleshooting
from tradai_nb.errors import AwsAccessError, CredentialsMissingError, OperationError
from tradai_nb.settings import Settings

# Test credentials for the sandbox; moto accepts any, real AWS accepts none of these.
SANDBOX_ACCESS_KEY = "testing"
SANDBOX_SECRET_KEY = "testing"
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=60)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class EnvironmentSession(boto3.Session):
    """A boto3 session bound to one environment; every client it makes goes to that environment's endpoint.

    For local, that is the sandbox, whatever AWS_ENDPOINT_URL or a profile says. For dev/staging/prod it is real
    AWS: configured endpoint overrides are ignored and a loopback endpoint is refused.
    """

    def __init__(self, environment: str, endpoint_url: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.endpoint_url = endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any):
        return super().client(service_name, *args, **self._checked(kwargs))

    def resource(self, service_name: str, *args: Any, **kwargs: Any):
        return super().resource(service_name, *args, **self._checked(kwargs))

    def _checked(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        requested = kwargs.get("endpoint_url")
        if self.endpoint_url is not None:
            if requested not in (None, self.endpoint_url):
                raise AwsAccessError(
                    f"environment {self.environment!r} talks only to the sandbox at {self.endpoint_url}; "
                    f"refusing endpoint {requested}"
                )
            kwargs["endpoint_url"] = self.endpoint_url
        elif requested is not None and urlparse(requested).hostname in _LOOPBACK_HOSTS:
            raise AwsAccessError(
                f"environment {self.environment!r} is real AWS; refusing the loopback endpoint {requested}. "
                "Use --env local for the sandbox."
            )
        kwargs.setdefault("config", RETRY_CONFIG)
        return kwargs


def session_for(settings: Settings) -> EnvironmentSession:
    """A boto3 session for the settings' environment (sandbox for local, credential chain otherwise)."""
    if settings.is_local:
        return EnvironmentSession(
            settings.environment,
            settings.endpoint_url,
            aws_access_key_id=SANDBOX_ACCESS_KEY,
            aws_secret_access_key=SANDBOX_SECRET_KEY,
            region_name=settings.aws_region,
            botocore_session=_botocore_session(ignore_configured_endpoints=True, isolated=True),
        )
    try:
        return EnvironmentSession(
            settings.environment,
            None,
            profile_name=settings.aws_profile,
            region_name=settings.aws_region,
            botocore_session=_botocore_session(ignore_configured_endpoints=True, isolated=False),
        )
    except ProfileNotFound:
        raise CredentialsMissingError(
            f"AWS profile {settings.aws_profile!r} (aws_profile in params/{settings.environment}.yaml) is not "
            "configured on this machine: run `aws configure --profile "
            f"{settings.aws_profile}` or `aws sso login --profile {settings.aws_profile}`, or name another profile in "
            f"params/{settings.environment}.yaml (for one notebook run: -p aws_profile=<name>)"
        ) from None


def _botocore_session(*, ignore_configured_endpoints: bool, isolated: bool) -> botocore.session.Session:
    # The sandbox session must not pick up a real profile's credentials or config from the environment:
    # AWS_PROFILE / AWS_DEFAULT_PROFILE are not even read (a profile missing on this machine would fail the session).
    session = botocore.session.Session(session_vars={"profile": (None, None, None, None)} if isolated else None)
    # AWS_ENDPOINT_URL and profile endpoint settings must never redirect an environment's session.
    session.set_config_variable("ignore_configured_endpoint_urls", ignore_configured_endpoints)
    return session


_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    }
)
_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "TooManyBuckets"})
_NOT_FOUND_CODES = frozenset(
    {
        "NoSuchEntity",
        "NoSuchBucket",
        "NoSuchKey",
        "InvocationDoesNotExist",
        "InvalidCommandId",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
    }
)
# SSM's answers when the host's agent is not registered: send_command and start_session.
_SSM_AGENT_CODES = frozenset({"InvalidInstanceId", "TargetNotConnected"})


def _advice(entry_id: str) -> str:
    return troubleshooting.entry(entry_id).advice()


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn AWS failures inside the block into errors that say what failed and, from the troubleshooting catalogue,
    the fix and the runbook.

    `what` names the step in the words of an operator ("describing services in cluster tradai-dev").
    """
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = f"{code}: {error.get('Message', '') or exc}"
        if code in _ACCESS_CODES:
            raise AwsAccessError(f"{what}: AWS refused the request ({detail}). {_advice('access-denied')}") from None
        if code in _EXPIRED_CODES:
            raise AwsAccessError(
                f"{what}: the AWS credentials have expired ({detail}). {_advice('expired-token')}"
            ) from None
        if code in _NOT_FOUND_CODES or code.endswith(("NotFound", "NotFoundException")) or ".NotFound" in code:
            raise OperationError(f"{what}: not found ({detail}). {_advice('aws-not-found')}") from None
        if code in _THROTTLING_CODES:
            raise OperationError(f"{what}: AWS is throttling requests ({detail}). {_advice('throttling')}") from None
        if code in _QUOTA_CODES or code.endswith(("LimitExceeded", "LimitExceededException")):
            raise OperationError(f"{what}: an AWS quota is reached ({detail}). {_advice('quota-exceeded')}") from None
        if code in _SSM_AGENT_CODES:
            raise OperationError(
                f"{what}: the host's SSM agent is not connected ({detail}). {_advice('ssm-agent')}"
            ) from None
        raise OperationError(f"{what} failed ({detail}). {_advice('aws-call-failed')}") from None
    except TokenRetrievalError as exc:
        raise CredentialsMissingError(
            f"{what}: the AWS login has expired ({exc}). {_advice('expired-token')}"
        ) from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
        raise CredentialsMissingError(
            f"{what}: no usable AWS credentials ({exc}). {_advice('no-credentials')}"
        ) from None
    except BotoConnectionError as exc:
        raise AwsAccessError(
            f"{what}: cannot reach the AWS endpoint ({exc}). {_advice('endpoint-unreachable')}"
        ) from None
    except ResponseParserError:
        raise OperationError(
            f"{what} failed: the endpoint answered with something that is not an AWS response. "
            f"{_advice('sandbox-unsupported')}"
        ) from None
    except BotoCoreError as exc:
        raise OperationError(f"{what} failed ({exc}). {_advice('aws-call-failed')}") from None
