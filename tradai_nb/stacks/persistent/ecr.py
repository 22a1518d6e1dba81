"""The ECR repositories: scanned on push, release tags immutable, old and untagged images expired."""

from __future__ import annotations

import json

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import persistent_options

# Tags that move on purpose: `latest` and one per environment, re-pushed before a forced redeploy (ECR allows
# five exclusion filters, exactly these). Every other tag (git SHA, version) is immutable, so a rollback to an
# earlier task-definition revision runs exactly the image that revision ran.
MOVING_TAGS = ("latest", *config.ENVIRONMENTS)
KEEP_LAST_IMAGES = 30
UNTAGGED_EXPIRY_DAYS = 7


def lifecycle_policy() -> str:
    """Expire untagged images after a week, then keep only the newest images of any tag."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {UNTAGGED_EXPIRY_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_EXPIRY_DAYS,
                    },
                    "action": {"type": "expire"},
                },
                {
                    # ECR requires the rule over any tag status to come last.
                    "rulePriority": 2,
                    "description": f"keep the last {KEEP_LAST_IMAGES} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": KEEP_LAST_IMAGES,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


def create_repositories(settings: Settings):
    """One repository per entry of config.ECR_REPOSITORIES, keyed by it, each with its lifecycle policy."""
    import pulumi_aws as aws

    policy = lifecycle_policy()
    repositories = {}
    for image in config.ECR_REPOSITORIES:
        repository = aws.ecr.Repository(
            f"{image}-repository",
            name=config.get_ecr_repo_name(image),
            image_scanning_configuration={"scan_on_push": True},
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
            image_tag_mutability_exclusion_filters=[{"filter": tag, "filter_type": "WILDCARD"} for tag in MOVING_TAGS],
            encryption_configurations=[{"encryption_type": "AES256"}],
            tags=config.get_tags(service=image, environment=settings.environment),
            opts=persistent_options(settings),
        )
        aws.ecr.LifecyclePolicy(f"{image}-repository-lifecycle", repository=repository.name, policy=policy)
        repositories[image] = repository
    return repositories
