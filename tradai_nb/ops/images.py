"""Container images in ECR: whether the images the stacks deploy have been pushed."""

from __future__ import annotations

import pandas as pd

from tradai_nb import config
from tradai_nb.errors import AwsAccessError
from tradai_nb.settings import Settings

IMAGE_COLUMNS = ["function", "repository", "tag", "present"]


def lambda_image_status(session, settings: Settings, *, tag: str = "latest") -> pd.DataFrame:
    """One row per Lambda function compute deploys: its ECR repository, the image tag, whether that image exists."""
    session_environment = getattr(session, "environment", settings.environment)
    if session_environment != settings.environment:
        raise AwsAccessError(f"the session is for {session_environment!r} but the settings are for "
                             f"{settings.environment!r}; make the session with aws.session_for(settings)")
    ecr = session.client("ecr")
    missing = (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException)
    rows = []
    for function in config.LAMBDA_FUNCTIONS:
        repository = config.get_ecr_repo_name(function)
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
            present = True
        except missing:
            present = False
        rows.append({"function": function, "repository": repository, "tag": tag, "present": present})
    return pd.DataFrame(rows, columns=IMAGE_COLUMNS)
