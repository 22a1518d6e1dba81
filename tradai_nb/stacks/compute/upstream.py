"""What the compute stack reads from persistent and foundation: the contract's exports, each read once."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pulumi

from tradai_nb.errors import ConfigError
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import Upstream

# Services and functions run the image their pipeline last pushed; a redeploy picks up a new push.
IMAGE_TAG = "latest"

_PERSISTENT_EXPORTS = ("ecr_repository_urls", "ecr_repository_arns", "bucket_names", "bucket_arns", "table_arns")


@dataclass(frozen=True)
class UpstreamOutputs:
    """The upstream exports compute uses, under their contract names."""

    ecr_repository_urls: pulumi.Output
    ecr_repository_arns: pulumi.Output
    bucket_names: pulumi.Output
    bucket_arns: pulumi.Output
    table_arns: pulumi.Output
    vpc_id: pulumi.Output
    public_subnet_ids: pulumi.Output
    private_subnet_ids: pulumi.Output
    alb_sg_id: pulumi.Output
    ecs_sg_id: pulumi.Output
    rds_address: pulumi.Output
    rds_port: pulumi.Output
    rds_db_name: pulumi.Output
    rds_secret_arn: pulumi.Output
    backtest_queue_url: pulumi.Output
    backtest_queue_arn: pulumi.Output
    alerts_topic_arn: pulumi.Output

    @classmethod
    def read(cls, settings: Settings) -> UpstreamOutputs:
        """Reference persistent and foundation and require every export compute needs."""
        persistent = Upstream("persistent", settings)
        foundation = Upstream("foundation", settings)
        return cls(
            **{
                f.name: (persistent if f.name in _PERSISTENT_EXPORTS else foundation).require(f.name)
                for f in fields(cls)
            }
        )

    def entry(self, export: str, key: str) -> pulumi.Output:
        """One entry of a mapping export (e.g. table_arns["api_keys"]); a missing entry names both sides."""

        def pick(mapping: dict) -> object:
            if key not in mapping:
                raise ConfigError(
                    f"upstream export {export!r} has no entry {key!r} "
                    f"(it has: {', '.join(sorted(mapping)) or 'none'}); "
                    f"config.py and the upstream stack disagree: deploy the upstream stack from this version first"
                )
            return mapping[key]

        return getattr(self, export).apply(pick)

    def image(self, repository: str) -> pulumi.Output:
        """The image URI a service or function runs: its ECR repository URL with IMAGE_TAG."""
        return self.entry("ecr_repository_urls", repository).apply(lambda url: f"{url}:{IMAGE_TAG}")
