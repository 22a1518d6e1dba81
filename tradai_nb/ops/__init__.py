"""Runbook actions over boto3: plain functions taking a session, returning DataFrames or dataclasses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError as BotoConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)
from botocore.parsers import ResponseParserError

from tradai_nb import troubleshooting
from tradai_nb.errors import AwsAccessError, CredentialsMissingError, OperationError

_ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthFailure",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidSignatureException",
})
_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})
_THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
})
_QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "TooManyBuckets"})
_NOT_FOUND_CODES = frozenset({
    "NoSuchEntity", "NoSuchBucket", "NoSuchKey", "InvocationDoesNotExist", "InvalidCommandId",
    "ClusterNotFoundException", "ServiceNotFoundException",
})
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
            raise AwsAccessError(f"{what}: the AWS credentials have expired ({detail}). "
                                 f"{_advice('expired-token')}") from None
        if code in _NOT_FOUND_CODES or code.endswith(("NotFound", "NotFoundException")) or ".NotFound" in code:
            raise OperationError(f"{what}: not found ({detail}). {_advice('aws-not-found')}") from None
        if code in _THROTTLING_CODES:
            raise OperationError(f"{what}: AWS is throttling requests ({detail}). {_advice('throttling')}") from None
        if code in _QUOTA_CODES or code.endswith(("LimitExceeded", "LimitExceededException")):
            raise OperationError(f"{what}: an AWS quota is reached ({detail}). {_advice('quota-exceeded')}") from None
        if code in _SSM_AGENT_CODES:
            raise OperationError(f"{what}: the host's SSM agent is not connected ({detail}). "
                                 f"{_advice('ssm-agent')}") from None
        raise OperationError(f"{what} failed ({detail}). {_advice('aws-call-failed')}") from None
    except TokenRetrievalError as exc:
        raise CredentialsMissingError(f"{what}: the AWS login has expired ({exc}). {_advice('expired-token')}") from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound) as exc:
        raise CredentialsMissingError(f"{what}: no usable AWS credentials ({exc}). {_advice('no-credentials')}") from None
    except BotoConnectionError as exc:
        raise AwsAccessError(f"{what}: cannot reach the AWS endpoint ({exc}). {_advice('endpoint-unreachable')}") from None
    except ResponseParserError:
        raise OperationError(f"{what} failed: the endpoint answered with something that is not an AWS response. "
                             f"{_advice('sandbox-unsupported')}") from None
    except BotoCoreError as exc:
        raise OperationError(f"{what} failed ({exc}). {_advice('aws-call-failed')}") from None
