"""bootstrap: the four stacks in dependency order, Lambda images checked before compute, stop at the first failure.

Actions other than plan need the Pulumi CLI, which cannot exist here: for them, automation.run_action is replaced by
`create_autospec` of the real function (calls are checked against its signature) that runs the checks its change
gate would run (the images in ECR, for compute's up), and the ECR check runs against a moto server.
"""

from __future__ import annotations

import json
from unittest.mock import create_autospec

import pandas as pd
import pytest

from tradai_nb import actions, bootstrap, config
from tradai_nb.aws import session_for
from tradai_nb.engine import automation
from tradai_nb.errors import OperationError, ParameterError, PulumiCliMissingError
from tradai_nb.settings import load_settings

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                                  "digest": "sha256:" + "b" * 64}, "layers": []})


@pytest.fixture
def local_settings(moto_port):
    return load_settings("local", {"sandbox_port": moto_port})


@pytest.fixture
def push_lambda_images(local_settings):
    """Push every Lambda image compute deploys; the repositories are removed again afterwards."""
    ecr = session_for(local_settings).client("ecr")
    created = []

    def push():
        for function in config.LAMBDA_FUNCTIONS:
            repository = config.get_ecr_repo_name(function)
            ecr.create_repository(repositoryName=repository)
            created.append(repository)
            ecr.put_image(repositoryName=repository, imageManifest=MANIFEST, imageTag="latest")

    yield push
    for repository in created:
        ecr.delete_repository(repositoryName=repository, force=True)


@pytest.fixture
def stack_action(monkeypatch):
    """automation.run_action as run_stack_action sees it: an autospec of the real function that runs the checks
    handed to the change gate, then answers with a small result."""
    def answer(settings, stack, action, **kwargs):
        for check in kwargs.get("checks", ()):
            check()
        summary = pd.DataFrame({"stack": [stack], "type": ["aws:s3/bucket:Bucket"], "count": [len(stack)]})
        return automation.AutomationResult(summary)

    mock = create_autospec(automation.run_action, side_effect=answer)
    monkeypatch.setattr(actions.automation, "run_action", mock)
    # The CLI check that precedes the image check: found, as on an operator's machine.
    monkeypatch.setattr(automation, "find_pulumi_cli", create_autospec(automation.find_pulumi_cli))
    return mock


def _called_stacks(mock) -> list[str]:
    return [call.args[1] for call in mock.call_args_list]


def test_bootstrap__plan_runs_the_four_stacks_in_dependency_order():
    result = bootstrap.bootstrap(load_settings("local"), "plan", on_output=lambda line: None)

    assert list(result.steps["stack"]) == ["persistent", "foundation", "compute", "edge"]
    assert set(result.steps["status"]) == {"done"}
    assert list(result.results) == ["persistent", "foundation", "compute", "edge"]
    assert result.images is None and result.error is None
    assert list(result.steps["outputs"]) == [len(r.outputs) for r in result.results.values()]
    assert result.resources_per_stack()["resources"].dtype.kind == "i"
    result.raise_if_failed()


def test_bootstrap__stops_before_compute_when_lambda_images_are_missing(local_settings, stack_action):
    result = bootstrap.bootstrap(local_settings, "up", confirm="local")

    # compute's up is asked for, and its gate stops it at the image check, after the guard, before any deploy.
    assert _called_stacks(stack_action) == ["persistent", "foundation", "compute"]
    assert list(result.steps["status"]) == ["done", "done", "failed", "not run"]
    assert isinstance(result.error, OperationError)
    assert "tradai/drift-monitor:latest" in str(result.error) and "tradai/model-promoter:latest" in str(result.error)
    assert result.steps.set_index("stack").loc["edge", "detail"] == "stopped: compute failed"
    with pytest.raises(OperationError, match="not in ECR"):
        result.raise_if_failed()


def test_bootstrap__deploys_compute_once_its_lambda_images_are_in_ecr(local_settings, stack_action, push_lambda_images):
    push_lambda_images()

    result = bootstrap.bootstrap(local_settings, "up", confirm="local")

    assert _called_stacks(stack_action) == ["persistent", "foundation", "compute", "edge"]
    assert all(call.kwargs["confirm"] == "local" for call in stack_action.call_args_list)
    assert set(result.steps["status"]) == {"done"}
    assert result.images["present"].all()
    assert list(result.resources_per_stack()["resources"]) == [len("persistent"), len("foundation"), len("compute"), len("edge")]


def test_bootstrap__stops_at_the_first_failing_stack(local_settings, stack_action):
    failure = PulumiCliMissingError("the Pulumi CLI is not installed")
    stack_action.side_effect = [automation.AutomationResult(pd.DataFrame({"count": [len("persistent")]})), failure]

    result = bootstrap.bootstrap(local_settings, "preview")

    assert _called_stacks(stack_action) == ["persistent", "foundation"]
    assert list(result.steps["status"]) == ["done", "failed", "not run", "not run"]
    assert result.error is failure
    assert list(result.resources_per_stack()["resources"]) == [len("persistent"), 0, 0, 0]


@pytest.mark.parametrize("action", ["destroy", "refresh", "import"], ids=["destroy", "refresh", "import"])
def test_bootstrap__refuses_actions_it_does_not_do(action, stack_action):
    with pytest.raises(ParameterError, match=f"bootstrap does plan, preview, up, not '{action}'"):
        bootstrap.bootstrap(load_settings("dev"), action)
    assert stack_action.call_count == 0


def test_bootstrap__without_the_pulumi_cli_stops_at_compute_before_asking_aws(stack_action):
    automation.find_pulumi_cli.side_effect = PulumiCliMissingError("the Pulumi CLI is not installed")
    # dev has no credentials here: reaching the ECR check would fail with an AWS error instead.
    result = bootstrap.bootstrap(load_settings("dev"), "preview")
    assert isinstance(result.error, PulumiCliMissingError)
    assert result.steps.set_index("stack").loc["compute", "status"] == "failed"
    assert result.images is None
