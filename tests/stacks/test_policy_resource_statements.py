"""Resource-policy statements of the policy builder: service principals and denies."""

from __future__ import annotations

import json

import pulumi
import pytest

from tradai_nb.stacks.policy import PolicyBuilder


def _document(builder: PolicyBuilder) -> dict:
    from pulumi.runtime.sync_await import _sync_await

    return json.loads(_sync_await(builder.to_json().future()))


def test_allow_service__names_the_service_principal():
    builder = PolicyBuilder().allow_service("cloudtrail.amazonaws.com", ["s3:PutObject"], ["arn:aws:s3:::b/*"],
                                            sid="Write")

    assert _document(builder)["Statement"] == [{
        "Sid": "Write", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b/*"],
    }]


def test_allow_service__still_refuses_wildcard_actions():
    with pytest.raises(ValueError, match="wildcard action"):
        PolicyBuilder().allow_service("cloudtrail.amazonaws.com", ["*"], ["arn:aws:s3:::b"])


def test_deny__accepts_wildcards_and_defaults_to_everyone():
    builder = PolicyBuilder().deny(["s3:*"], [pulumi.Output.from_input("arn:aws:s3:::b")], sid="Tls",
                                   condition={"Bool": {"aws:SecureTransport": "false"}})

    assert _document(builder)["Statement"] == [{
        "Sid": "Tls", "Effect": "Deny", "Principal": "*", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::b"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]


def test_deny__needs_actions_and_resources():
    with pytest.raises(ValueError, match="at least one action and one resource"):
        PolicyBuilder().deny([], ["arn:aws:s3:::b"])
