"""Image checks: which Lambda images compute needs are in ECR, what each function and ECS service runs and whether
ECR holds it, the newest image per repository."""

from __future__ import annotations

import json

import pytest
from moto.server import ThreadedMotoServer

from tradai_nb import config
from tradai_nb.aws import session_for
from tradai_nb.errors import AwsAccessError, ParameterError
from tradai_nb.ops import images
from tradai_nb.ops.images import lambda_image_status
from tradai_nb.settings import load_settings

REGISTRY = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
# The seeded sandbox serves the plan's account.
SANDBOX_REGISTRY = f"{config.PLAN_ACCOUNT_ID}.dkr.ecr.eu-central-1.amazonaws.com"

MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": "sha256:" + "a" * 64},
    "layers": [],
})


@pytest.fixture(scope="module")
def local_settings():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield load_settings("local", {"sandbox_port": server.get_host_and_port()[1]})
    server.stop()


@pytest.fixture
def push_image(local_settings):
    """push_image(repository, tag); the repositories are deleted afterwards (moto's state is per process)."""
    ecr = session_for(local_settings).client("ecr")
    created = []

    def push(repository: str, tag: str) -> None:
        ecr.create_repository(repositoryName=repository)
        created.append(repository)
        ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag=tag)

    yield push
    for repository in created:
        ecr.delete_repository(repositoryName=repository, force=True)


def test_lambda_image_status__marks_each_function_by_whether_its_tagged_image_exists(local_settings, push_image):
    session = session_for(local_settings)
    push_image("tradai/drift-monitor", "latest")
    push_image("tradai/health-check", "v1")

    status = lambda_image_status(session, local_settings)

    assert list(status.columns) == ["function", "repository", "tag", "present"]
    assert list(status["function"]) == list(config.LAMBDA_FUNCTIONS)
    present = dict(zip(status["function"], status["present"]))
    assert present.pop("drift-monitor") is True
    assert present.pop("health-check") is False  # repository exists, but not with the tag compute deploys
    assert set(present.values()) == {False}  # no repository at all
    assert set(status["tag"]) == {"latest"}
    assert status.loc[status["function"] == "drift-monitor", "repository"].item() == "tradai/drift-monitor"
    assert lambda_image_status(session, local_settings, tag="v1").set_index("function").loc["health-check", "present"]


def test_lambda_image_status__refuses_a_session_of_another_environment(local_settings):
    with pytest.raises(AwsAccessError, match="session is for 'local' but the settings are for 'dev'"):
        lambda_image_status(session_for(local_settings), load_settings("dev"))


@pytest.fixture
def functions_with_missing_images(sandbox):
    """Two image functions of the environment: one whose tag was never pushed, one whose repository does not exist.
    Deleted afterwards."""
    client = sandbox.session.client("lambda")
    role = sandbox.session.client("iam").get_role(RoleName=config.get_resource_name("lambda", "local"))["Role"]["Arn"]
    created = {
        "tradai-ghost-tag-local": f"{SANDBOX_REGISTRY}/tradai/drift-monitor:v404.0.0",
        "tradai-ghost-repo-local": f"{SANDBOX_REGISTRY}/tradai/never-built:v1.0.0",
    }
    for name, image in created.items():
        client.create_function(FunctionName=name, PackageType="Image", Code={"ImageUri": image}, Role=role)
    try:
        yield created
    finally:
        for name in created:
            client.delete_function(FunctionName=name)


@pytest.mark.sandbox
def test_deployed_images__every_seeded_function_and_service_image_is_in_ecr(sandbox):
    deployed = images.deployed_images(sandbox.session, sandbox.settings)

    functions = deployed[deployed["kind"] == "lambda"]
    services = deployed[deployed["kind"] == "ecs"]
    assert sorted(functions["name"]) == sorted(config.get_function_name(f, "local") for f in config.LAMBDA_FUNCTIONS)
    assert sorted(services["name"]) == sorted(config.get_service_name(s, "local") for s in config.SERVICES)
    assert deployed["present"].eq(True).all()
    backend = services[services["name"] == config.get_service_name("backend", "local")].iloc[0]
    assert (backend.container, backend.repository) == ("backend-api", "tradai/backend")
    assert backend.image == f"{SANDBOX_REGISTRY}/tradai/backend:{backend.reference}"


@pytest.mark.sandbox
def test_deployed_images__flags_functions_whose_image_is_missing(sandbox, functions_with_missing_images):
    deployed = images.deployed_images(sandbox.session, sandbox.settings)

    missing = images.missing_images(deployed)
    assert sorted(missing["name"]) == sorted(functions_with_missing_images)
    assert dict(zip(missing["name"], missing["reference"])) == {
        "tradai-ghost-tag-local": "v404.0.0", "tradai-ghost-repo-local": "v1.0.0"}
    assert deployed["present"].sum() == len(config.LAMBDA_FUNCTIONS) + len(config.SERVICES)


@pytest.mark.parametrize("image, expected", [
    (f"{REGISTRY}/tradai/backend:v1.2.0", ("123456789012", "eu-central-1", "tradai/backend", "v1.2.0", None)),
    (f"{REGISTRY}/tradai/backend", ("123456789012", "eu-central-1", "tradai/backend", "latest", None)),
    (f"{REGISTRY}/tradai/backend@sha256:{'a' * 64}",
     ("123456789012", "eu-central-1", "tradai/backend", None, f"sha256:{'a' * 64}")),
    ("210987654321.dkr.ecr.us-east-1.amazonaws.com/base:3", ("210987654321", "us-east-1", "base", "3", None)),
    ("python:3.11-slim", None),
    ("ghcr.io/mlflow/mlflow:v2.16.0", None),
], ids=["tag", "no-tag", "digest", "other-account-and-region", "docker-hub", "ghcr"])
def test_parse_ecr_image__splits_ecr_uris_and_skips_other_registries(image, expected):
    parsed = images.parse_ecr_image(image)

    assert (None if parsed is None else (parsed.registry, parsed.region, parsed.repository, parsed.tag,
                                         parsed.digest)) == expected


@pytest.mark.sandbox
def test_latest_images__newest_image_of_each_repository(sandbox):
    latest = images.latest_images(sandbox.session, sandbox.settings).set_index("repository")

    assert sorted(latest.index) == sorted(config.get_ecr_repo_name(r) for r in config.ECR_REPOSITORIES)
    assert latest.loc["tradai/backend", ["images", "latest_tags"]].tolist() == [3, "latest, v1.2.0"]
    assert latest.loc["tradai/cost-reporter", ["images", "latest_tags"]].tolist() == [1, "latest, v1.0.0"]
    assert latest["pushed_at"].notna().all() and latest["digest"].str.startswith("sha256:").all()


def test_check_parameters__only_missing_must_be_true_or_false():
    with pytest.raises(ParameterError, match="parameter 'only_missing'"):
        images.check_parameters(load_settings("local"), only_missing="yes")


def test_lambda_image_status__the_seeded_estate_holds_every_image_compute_deploys(sandbox):
    status = images.lambda_image_status(sandbox.session, sandbox.settings)

    assert sorted(status["function"]) == sorted(config.LAMBDA_FUNCTIONS)
    assert status["present"].all() and set(status["tag"]) == {"latest"}
