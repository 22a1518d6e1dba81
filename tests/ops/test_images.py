"""lambda_image_status against a moto server: which Lambda images compute needs are in ECR."""

from __future__ import annotations

import json

import pytest
from moto.server import ThreadedMotoServer

from tradai_nb import config
from tradai_nb.aws import session_for
from tradai_nb.errors import AwsAccessError
from tradai_nb.ops.images import lambda_image_status
from tradai_nb.settings import load_settings

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
