"""Container images in ECR: whether the images the stacks deploy have been pushed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tradai_nb import config, troubleshooting
from tradai_nb.aws import aws_errors
from tradai_nb.errors import AwsAccessError, CheckFailedError
from tradai_nb.ops._common import check_flag, parallel_map
from tradai_nb.ops.ecs import cluster_service_names, describe_services
from tradai_nb.settings import Settings

IMAGE_COLUMNS = ["function", "repository", "tag", "present"]
DEPLOYED_COLUMNS = ["kind", "name", "container", "image", "repository", "reference", "present"]
LATEST_COLUMNS = ["repository", "images", "latest_tags", "pushed_at", "size_mb", "digest"]
_ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
    r"(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def lambda_image_status(session, settings: Settings, *, tag: str = "latest") -> pd.DataFrame:
    """One row per Lambda function compute deploys: its ECR repository, the image tag, whether that image exists."""
    session_environment = getattr(session, "environment", settings.environment)
    if session_environment != settings.environment:
        raise AwsAccessError(
            f"the session is for {session_environment!r} but the settings are for "
            f"{settings.environment!r}; make the session with aws.session_for(settings)"
        )
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


@dataclass(frozen=True)
class EcrImage:
    """An image reference in ECR: registry (account), region, repository, and a tag or a digest."""

    registry: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"


def check_parameters(settings: Settings, *, only_missing: bool) -> None:
    """Validate the images runbook's parameters before any AWS call."""
    check_flag("only_missing", only_missing)


def parse_ecr_image(image: str) -> EcrImage | None:
    """The parts of an ECR image URI; None for an image from another registry (Docker Hub, ghcr.io, ...)."""
    match = _ECR_IMAGE.match(image)
    if not match:
        return None
    tag, digest = match.group("tag"), match.group("digest")
    return EcrImage(
        match.group("registry"),
        match.group("region"),
        match.group("repository"),
        tag if tag or digest else "latest",
        digest,
    )


def deployed_images(session, settings: Settings) -> pd.DataFrame:
    """Every image-based Lambda function of the environment and every container of the ECS services: the image it
    runs and whether ECR holds it (present is None for images outside ECR). The guide's `lambda-check-images`."""
    rows = [*_lambda_images(session, settings), *_service_images(session, settings)]
    images = {row["image"]: parse_ecr_image(row["image"]) for row in rows}
    present = _present_in_ecr(session, [image for image in images.values() if image is not None])
    for row in rows:
        image = images[row["image"]]
        row["repository"] = image.repository if image else None
        row["reference"] = image.reference if image else None
        row["present"] = present[image] if image else None
    frame = pd.DataFrame(rows, columns=DEPLOYED_COLUMNS)
    return frame.sort_values(["kind", "name", "container"], ignore_index=True)


def missing_images(deployed: pd.DataFrame) -> pd.DataFrame:
    """The rows of deployed_images whose image ECR does not hold."""
    return deployed[deployed["present"].eq(False)].reset_index(drop=True)


def require_present(missing: pd.DataFrame) -> None:
    """The runbook's outcome: any image missing from ECR raises CheckFailedError, so the run fails."""
    if not missing.empty:
        names = ", ".join(f"{row.name} ({row.image})" for row in missing.itertuples())
        raise CheckFailedError(
            f"{len(missing)} image(s) in use are missing from ECR: {names}. "
            + troubleshooting.entry("image-not-found").advice()
        )


def latest_images(session, settings: Settings) -> pd.DataFrame:
    """The newest image of each of the estate's ECR repositories: when it was pushed, its tags and size."""
    ecr = session.client("ecr")
    repositories = [config.get_ecr_repo_name(name) for name in config.ECR_REPOSITORIES]

    def describe(repository: str) -> dict[str, Any]:
        try:
            pages = ecr.get_paginator("describe_images").paginate(repositoryName=repository)
            images = [image for page in pages for image in page["imageDetails"]]
        except ecr.exceptions.RepositoryNotFoundException:
            return {"repository": repository, "images": 0, "latest_tags": "(repository not found)"}
        if not images:
            return {"repository": repository, "images": 0, "latest_tags": ""}
        # Pushes within one second tie on imagePushedAt (the sandbox's clock has whole seconds): the one ECR lists
        # later wins.
        _, newest = max(enumerate(images), key=lambda item: (item[1]["imagePushedAt"], item[0]))
        return {
            "repository": repository,
            "images": len(images),
            "latest_tags": ", ".join(sorted(newest.get("imageTags", []))) or "(untagged)",
            "pushed_at": pd.Timestamp(newest["imagePushedAt"]),
            "size_mb": round(newest.get("imageSizeInBytes", 0) / 1_000_000, 1),
            "digest": newest["imageDigest"],
        }

    with aws_errors("describing the images in the estate's ECR repositories"):
        rows = parallel_map(describe, repositories)
    return pd.DataFrame(rows, columns=LATEST_COLUMNS).sort_values("repository", ignore_index=True)


def _lambda_images(session, settings: Settings) -> list[dict[str, Any]]:
    lambda_client = session.client("lambda")
    prefix, suffix = f"{config.PROJECT_NAME}-", f"-{settings.environment}"
    with aws_errors("listing the Lambda functions"):
        pages = lambda_client.get_paginator("list_functions").paginate()
        names = sorted(
            fn["FunctionName"]
            for page in pages
            for fn in page["Functions"]
            if fn.get("PackageType") == "Image"
            and fn["FunctionName"].startswith(prefix)
            and fn["FunctionName"].endswith(suffix)
        )

    def image_of(name: str) -> dict[str, Any]:
        # list_functions leaves out the image URI; only get_function carries it.
        code = lambda_client.get_function(FunctionName=name)["Code"]
        return {"kind": "lambda", "name": name, "container": "", "image": code.get("ImageUri", "")}

    with aws_errors("reading the Lambda functions' images"):
        return parallel_map(image_of, names)


def _service_images(session, settings: Settings) -> list[dict[str, Any]]:
    ecs = session.client("ecs")
    cluster = config.get_cluster_name(settings.environment)
    services = [
        s for s in describe_services(ecs, cluster, cluster_service_names(ecs, cluster)) if s["status"] != "INACTIVE"
    ]
    task_definitions = sorted({s["taskDefinition"] for s in services})

    def containers(task_definition: str) -> list[dict[str, Any]]:
        return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]["containerDefinitions"]

    with aws_errors(f"describing the task definitions of the services in ECS cluster {cluster}"):
        by_definition = dict(zip(task_definitions, parallel_map(containers, task_definitions), strict=True))
    return [
        {"kind": "ecs", "name": s["serviceName"], "container": c["name"], "image": c["image"]}
        for s in services
        for c in by_definition[s["taskDefinition"]]
    ]


def _present_in_ecr(session, images: list[EcrImage]) -> dict[EcrImage, bool]:
    """Whether each image is in its repository: one list_images per repository, matched by tag or digest."""
    repositories = sorted({(image.registry, image.region, image.repository) for image in images})
    # Clients are made here, not in the threads: a boto3 session is not thread-safe (its clients are).
    clients = {region: session.client("ecr", region_name=region) for _, region, _ in repositories}

    def held(key: tuple[str, str, str]) -> tuple[set[str], set[str]]:
        registry, region, repository = key
        ecr = clients[region]
        try:
            pages = ecr.get_paginator("list_images").paginate(registryId=registry, repositoryName=repository)
            ids = [image_id for page in pages for image_id in page["imageIds"]]
        except ecr.exceptions.RepositoryNotFoundException:
            return set(), set()
        return {i["imageTag"] for i in ids if "imageTag" in i}, {i["imageDigest"] for i in ids if "imageDigest" in i}

    with aws_errors("listing the images in ECR"):
        contents = dict(zip(repositories, parallel_map(held, repositories), strict=True))
    present = {}
    for image in images:
        tags, digests = contents[(image.registry, image.region, image.repository)]
        present[image] = image.digest in digests if image.digest else image.tag in tags
    return present
