"""The bucket of the self-managed Pulumi backend (s3://tradai-pulumi-state-<env>), and its check against settings."""

from __future__ import annotations

from tradai_nb import config
from tradai_nb.errors import SettingsError
from tradai_nb.settings import Settings
from tradai_nb.stacks.persistent import s3

# Every checkpoint write leaves a version behind; ninety days of them is enough to undo any bad update
# noticed late, and Pulumi keeps its own history and backups under .pulumi/ besides.
STATE_VERSION_RECOVERY_DAYS = 90


def state_bucket_name(settings: Settings) -> str:
    return config.get_bucket_name(config.STATE_BUCKET_KEY, settings.environment)


def check_backend_url(settings: Settings) -> None:
    """An s3:// backend must be the bucket this stack manages, or the stack would create a bucket nobody uses."""
    url = settings.pulumi_backend_url
    if not url.startswith("s3://"):
        return
    backend_bucket = url.removeprefix("s3://").split("/", 1)[0]
    expected = state_bucket_name(settings)
    if backend_bucket != expected:
        raise SettingsError(
            f"params/{settings.environment}.yaml key 'pulumi_backend_url' names bucket {backend_bucket!r}, but the "
            f"persistent stack manages the state bucket {expected!r}; set pulumi_backend_url: s3://{expected} "
            f"(or a file:// backend)",
            key="pulumi_backend_url",
        )


def create_state_bucket(settings: Settings):
    """The state bucket: versioned (a bad checkpoint can be rolled back), encrypted, private, TLS-only."""
    rules = s3.BucketRules(versioned=True, expire_old_versions_after_days=STATE_VERSION_RECOVERY_DAYS)
    bucket = s3.create_secure_bucket(
        config.STATE_BUCKET_KEY, state_bucket_name(settings), rules, settings, service="pulumi"
    )
    s3.create_bucket_policy(config.STATE_BUCKET_KEY, bucket, s3.tls_only_policy(bucket))
    return bucket
