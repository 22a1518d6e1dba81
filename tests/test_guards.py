"""Guard rails for stack actions: confirm in protected environments, destroy policies, parameters, import files."""

from __future__ import annotations

import json

import pytest

from tradai_nb.errors import GuardError, ParameterError
from tradai_nb.guards import ACTIONS, CHANGING_ACTIONS, check_stack_action
from tradai_nb.stacks import stacks
from tradai_nb.state.sealing import secrets_provider_state

PASSPHRASE = "guard-tests-passphrase-5c1e"


def deployment(project: str = "tradai-compute", environment: str = "dev", types=("aws:ecs/cluster:Cluster",)) -> dict:
    resources = [
        {"urn": f"urn:pulumi:{environment}::{project}::pulumi:pulumi:Stack::{project}-{environment}",
         "custom": False, "type": "pulumi:pulumi:Stack"},
        *({"urn": f"urn:pulumi:{environment}::{project}::{t}::r{i}", "custom": True, "type": t, "id": f"id-{i}"}
          for i, t in enumerate(types)),
    ]
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "abc", "version": "v3.200.0"},
            "secrets_providers": {"type": "passphrase", "state": secrets_provider_state(environment, project,
                                                                                        passphrase=PASSPHRASE)},
            "resources": resources,
        },
    }


@pytest.mark.parametrize("action", ["deploy", "", "UP"], ids=["unknown", "empty", "wrong-case"])
def test_unknown_action__names_the_parameter_and_lists_the_actions(settings_of, action):
    with pytest.raises(ParameterError) as caught:
        check_stack_action(settings_of("dev"), "compute", action)
    assert caught.value.name == "action"
    assert all(a in str(caught.value) for a in ACTIONS)


def test_unknown_stack__names_the_parameter_and_lists_the_stacks(settings_of):
    with pytest.raises(ParameterError) as caught:
        check_stack_action(settings_of("dev"), "network", "preview")
    assert caught.value.name == "stack"
    assert all(name in str(caught.value) for name in stacks.names())


@pytest.mark.parametrize("environment", ["staging", "prod"])
@pytest.mark.parametrize("action", CHANGING_ACTIONS)
def test_changing_action_in_protected_environment__needs_confirm(settings_of, environment, action, tmp_path):
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(deployment(environment=environment)))
    kwargs = {"allow_destroy": True, "state_file": state_file if action == "import" else None}
    for wrong in ("", "yes", "dev", environment.upper()):
        with pytest.raises(GuardError) as caught:
            check_stack_action(settings_of(environment), "compute", action, confirm=wrong, **kwargs)
        assert caught.value.name == "confirm"
        assert f"confirm={environment!r}" in str(caught.value)
    approved = check_stack_action(settings_of(environment), "compute", action, confirm=environment, **kwargs)
    assert approved.action == action and approved.spec.name == "compute"


@pytest.mark.parametrize("action", ["plan", "preview", "outputs", "export", "history"])
def test_reading_action_in_prod__needs_no_confirm(settings_of, action):
    assert check_stack_action(settings_of("prod"), "edge", action).action == action


@pytest.mark.parametrize("action", CHANGING_ACTIONS[:3])
def test_changing_action_in_dev__needs_no_confirm(settings_of, action):
    assert check_stack_action(settings_of("dev"), "edge", action).action == action


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"])
def test_destroy_persistent__is_refused_even_with_confirm_and_allow(settings_of, environment):
    with pytest.raises(GuardError, match="never destroyed") as caught:
        check_stack_action(settings_of(environment), "persistent", "destroy", confirm=environment, allow_destroy=True)
    assert caught.value.name == "action"


@pytest.mark.parametrize("environment", ["local", "dev"])
def test_destroy_foundation__needs_allow_destroy(settings_of, environment):
    with pytest.raises(GuardError, match="allow_destroy=True") as caught:
        check_stack_action(settings_of(environment), "foundation", "destroy")
    assert caught.value.name == "allow_destroy"
    assert "compute, edge" in str(caught.value)
    assert check_stack_action(settings_of(environment), "foundation", "destroy", allow_destroy=True).action == "destroy"


def test_destroy_foundation_in_prod__needs_allow_destroy_and_confirm(settings_of):
    with pytest.raises(GuardError) as without_allow:
        check_stack_action(settings_of("prod"), "foundation", "destroy", confirm="prod")
    assert without_allow.value.name == "allow_destroy"
    with pytest.raises(GuardError) as without_confirm:
        check_stack_action(settings_of("prod"), "foundation", "destroy", allow_destroy=True)
    assert without_confirm.value.name == "confirm"


@pytest.mark.parametrize("stack", ["compute", "edge"])
def test_destroy_freely_destroyable_stack_in_dev__passes(settings_of, stack):
    assert check_stack_action(settings_of("dev"), stack, "destroy").spec.name == stack


@pytest.mark.parametrize(
    ("name", "value"),
    [("confirm", None), ("confirm", 1), ("allow_destroy", "True"), ("allow_destroy", 1)],
    ids=["confirm-none", "confirm-int", "allow-destroy-text", "allow-destroy-int"],
)
def test_mistyped_parameter__names_it(settings_of, name, value):
    with pytest.raises(ParameterError) as caught:
        check_stack_action(settings_of("dev"), "compute", "up", **{name: value})
    assert caught.value.name == name


def test_import__returns_the_parsed_deployment(settings_of, tmp_path):
    state_file = tmp_path / "compute-dev.json"
    state_file.write_text(json.dumps(deployment()))
    approved = check_stack_action(settings_of("dev"), "compute", "import", state_file=str(state_file))
    assert approved.deployment == deployment()


@pytest.mark.parametrize("resources", [None, [], "stack-only"], ids=["no-resources-key", "empty-list", "stack-only"])
def test_import__refuses_a_deployment_that_would_empty_the_stack(settings_of, tmp_path, resources):
    empty = deployment(environment="prod")
    if resources is None:
        del empty["deployment"]["resources"]
    elif resources == "stack-only":
        empty["deployment"]["resources"] = empty["deployment"]["resources"][:1]
    else:
        empty["deployment"]["resources"] = []
    state_file = tmp_path / "empty.json"
    state_file.write_text(json.dumps(empty))

    with pytest.raises(GuardError) as caught:
        check_stack_action(settings_of("prod"), "compute", "import", confirm="prod", state_file=state_file)

    assert caught.value.name == "state_file" and "holds no resources" in str(caught.value)


def test_import__refuses_another_secrets_provider(settings_of, tmp_path):
    foreign = deployment()
    foreign["deployment"]["secrets_providers"] = {"type": "awskms", "state": {"url": "awskms://alias/x"}}
    state_file = tmp_path / "kms.json"
    state_file.write_text(json.dumps(foreign))

    with pytest.raises(GuardError, match="secrets provider 'awskms'") as caught:
        check_stack_action(settings_of("dev"), "compute", "import", state_file=state_file)
    assert caught.value.name == "state_file"


def test_import__refuses_a_deployment_the_shells_passphrase_cannot_open(settings_of, tmp_path, monkeypatch):
    state_file = tmp_path / "compute.json"
    state_file.write_text(json.dumps(deployment()))
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "another-passphrase-entirely")

    with pytest.raises(GuardError, match="another passphrase"):
        check_stack_action(settings_of("dev"), "compute", "import", state_file=state_file)

    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    assert check_stack_action(settings_of("dev"), "compute", "import", state_file=state_file).deployment is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        (json.dumps([1, 2]), "is not a Pulumi deployment"),
        (json.dumps({"version": 2, "deployment": {"manifest": {}}}), "is not a Pulumi deployment"),
        (json.dumps({"version": 3, "checkpoint": {"stack": "dev", "latest": {}}}), "checkpoint file"),
        (json.dumps({"version": 3, "deployment": {"resources": []}}), "no deployment manifest"),
        (json.dumps({"version": 3, "deployment": {"manifest": {}, "resources": [{"type": "x"}]}}), "each with a urn"),
        (json.dumps(deployment(project="tradai-edge")), "another stack"),
        (json.dumps(deployment(environment="prod")), "another stack"),
    ],
    ids=["missing", "not-json", "not-a-mapping", "wrong-version", "checkpoint", "no-manifest", "no-urn",
         "other-project", "other-environment"],
)
def test_import_with_bad_state_file__is_refused_naming_state_file(settings_of, tmp_path, content, message):
    state_file = tmp_path / "state.json"
    if content is not None:
        state_file.write_text(content)
    with pytest.raises(ParameterError, match=message) as caught:
        check_stack_action(settings_of("dev"), "compute", "import", state_file=state_file)
    assert caught.value.name == "state_file"


@pytest.mark.parametrize("state_file", [None, ""], ids=["none", "empty"])
def test_import_without_state_file__is_refused(settings_of, state_file):
    with pytest.raises(ParameterError, match="needs the path") as caught:
        check_stack_action(settings_of("dev"), "compute", "import", state_file=state_file)
    assert caught.value.name == "state_file"


def test_state_file_with_another_action__is_refused(settings_of, tmp_path):
    with pytest.raises(ParameterError, match="only action='import'") as caught:
        check_stack_action(settings_of("dev"), "compute", "up", state_file=tmp_path / "state.json")
    assert caught.value.name == "state_file"
