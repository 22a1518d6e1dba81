"""SNS topics (alerts, registration), encrypted with a key CloudWatch alarms may use, the alert e-mail subscriptions.

The topics use a customer managed KMS key rather than the AWS managed alias/aws/sns: that key's policy cannot be
changed and does not let CloudWatch alarms (or EventBridge) encrypt, so alarms routed to an encrypted alerts
topic would silently fail to notify anyone.
"""

from __future__ import annotations

from typing import Any

import pulumi

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.policy import PolicyBuilder

NOTIFICATIONS_SERVICE = "notifications"
ALERTS_TOPIC = "alerts"
# Services that publish to the topics themselves and so must be able to use the key.
PUBLISHING_SERVICES = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
_KEY_ADMINISTRATION = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
_KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
_PUBLISH_WITH_KEY = ["kms:GenerateDataKey*", "kms:Decrypt"]
KEY_DELETION_WINDOW_DAYS = {True: 30, False: 7}


def key_policy(account_id: pulumi.Input[str], region: str) -> pulumi.Output[str]:
    """Key policy: the account administers and uses the key through IAM; any principal of the account may use it
    through SNS only (as with the AWS managed key); CloudWatch and EventBridge may use it to publish."""
    return (
        PolicyBuilder()
        .allow(
            [*_KEY_ADMINISTRATION, *_KEY_USE],
            ["*"],
            sid="AccountAdministersTheKey",
            principal={"AWS": pulumi.Output.concat("arn:aws:iam::", account_id, ":root")},
        )
        .allow(
            _PUBLISH_WITH_KEY,
            ["*"],
            sid="AccountPrincipalsThroughSns",
            principal={"AWS": "*"},
            condition={
                "StringEquals": {"kms:CallerAccount": account_id, "kms:ViaService": f"sns.{region}.amazonaws.com"}
            },
        )
        # No source condition here: AWS documents none for alarm actions, and the topic policy already limits
        # who may publish to the topics at all.
        .allow(_PUBLISH_WITH_KEY, ["*"], sid="PublishingServices", principal={"Service": PUBLISHING_SERVICES})
        .to_json()
    )


def create_topics(settings: Settings) -> dict[str, Any]:
    """Create the key and its alias, the topics (returned by name, as in config.SNS_TOPICS), and one e-mail
    subscription per settings.alert_emails on alerts."""
    import pulumi_aws as aws
    from pulumi_aws import kms, sns

    env = settings.environment

    def tags(name: str) -> dict[str, str]:
        return config.get_tags(service=NOTIFICATIONS_SERVICE, environment=env, Name=name)

    key_name = config.get_resource_name(NOTIFICATIONS_SERVICE, env)
    key = kms.Key(
        "notifications-key",
        description="Encrypts the TradAI SNS topics",
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS[settings.protect_data],
        policy=key_policy(aws.get_caller_identity_output().account_id, settings.aws_region),
        tags=tags(key_name),
    )
    kms.Alias("notifications-key-alias", name=f"alias/{key_name}", target_key_id=key.key_id)

    topics = {}
    for topic in config.SNS_TOPICS:
        name = config.get_resource_name(topic, env)
        topics[topic] = sns.Topic(f"{topic}-topic", name=name, kms_master_key_id=key.arn, tags=tags(name))
    for email in settings.alert_emails:
        # Named by address, so adding or removing one address leaves the other subscriptions alone.
        sns.TopicSubscription(
            f"{ALERTS_TOPIC}-email-{email}", topic=topics[ALERTS_TOPIC].arn, protocol="email", endpoint=email
        )
    return topics
