"""30-day rotation of the MLflow database's master secret, the one RDS creates and manages in Secrets Manager.

RDS-managed secrets (manage_master_user_password) rotate by RDS itself, every 7 days by default; Secrets
Manager's RotateSecret may change that schedule without a rotation Lambda (managed rotation), which
aws.secretsmanager.SecretRotation does when rotation_lambda_arn is left out. So there is no Lambda, no
password in code or state, and no second secret to keep in sync.
"""

from __future__ import annotations

from typing import Any

import pulumi

from tradai_nb.settings import Settings
from tradai_nb.stacks.common import data_options

ROTATION_DAYS = 30


def master_secret_arn(database: Any) -> pulumi.Output[str]:
    """ARN of the secret RDS keeps the master credentials in."""
    return database.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)


def rotate_master_secret(settings: Settings, database: Any) -> Any:
    """Rotate the RDS-managed master secret every ROTATION_DAYS days."""
    from pulumi_aws import secretsmanager

    return secretsmanager.SecretRotation(
        "mlflow-db-secret-rotation",
        secret_id=master_secret_arn(database),
        rotation_rules={"automatically_after_days": ROTATION_DAYS},
        # The new password arrives on schedule, not in the middle of the deployment that set the schedule.
        rotate_immediately=False,
        opts=data_options(settings),
    )
