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

from tradai_nb.errors import AwsAccessError, CredentialsMissingError, OperationError

_ACCESS_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthFailure",
    "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
    "SignatureDoesNotMatch", "InvalidSignatureException",
})
_THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
})
_NOT_FOUND_CODES = frozenset({
    "NoSuchEntity", "NoSuchBucket", "NoSuchKey", "InvocationDoesNotExist", "InvalidCommandId",
    "ClusterNotFoundException", "ServiceNotFoundException",
})


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn AWS failures inside the block into errors that say what failed and what to check.

    `what` names the step in the words of an operator ("describing services in cluster tradai-dev").
    """
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = f"{code}: {error.get('Message', '') or exc}"
        if code in _ACCESS_CODES:
            raise AwsAccessError(
                f"{what}: AWS refused the request ({detail}); check who you are (`aws sts get-caller-identity`), "
                "that your role has this permission, and that you chose the right environment and profile"
            ) from None
        if code in _NOT_FOUND_CODES or code.endswith(("NotFound", "NotFoundException")) or ".NotFound" in code:
            raise OperationError(
                f"{what}: not found ({detail}); check that you chose the right environment and region "
                "and that the stack that creates it is deployed"
            ) from None
        if code in _THROTTLING_CODES:
            raise OperationError(f"{what}: AWS is throttling requests ({detail}); wait a minute and run again") from None
        raise OperationError(f"{what} failed ({detail}); check the parameters and the resource's current state") from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, TokenRetrievalError) as exc:
        raise CredentialsMissingError(
            f"{what}: no usable AWS credentials ({exc}); log in (`aws sso login --profile <profile>`) "
            "or set aws_profile in the environment's params file"
        ) from None
    except BotoConnectionError as exc:
        raise AwsAccessError(
            f"{what}: cannot reach the AWS endpoint ({exc}); check the network, or for --env local that the sandbox "
            "runs (`tradai-nb sandbox status`)"
        ) from None
    except ResponseParserError:
        raise OperationError(
            f"{what} failed: the endpoint answered with something that is not an AWS response; for --env local, "
            "the sandbox does not implement every AWS call (rehearse this step in dev)"
        ) from None
    except BotoCoreError as exc:
        raise OperationError(f"{what} failed ({exc})") from None
