"""State files of a stack import that are not regular UTF-8 JSON files of a sane size are refused naming state_file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tradai_nb.errors import ParameterError
from tradai_nb.guards import load_deployment
from tradai_nb.stacks import stacks

SPEC = stacks.get("compute")
STATE_FILE_LIMIT = 256 * 1024 * 1024


def deployment(environment: str = "dev", project: str = "tradai-compute") -> dict:
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-01-01T00:00:00Z", "magic": "abc", "version": "v3.200.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}},
            "resources": [
                {"urn": f"urn:pulumi:{environment}::{project}::pulumi:pulumi:Stack::{project}-{environment}",
                 "custom": False, "type": "pulumi:pulumi:Stack"},
                {"urn": f"urn:pulumi:{environment}::{project}::aws:ecs/cluster:Cluster::cluster", "custom": True,
                 "type": "aws:ecs/cluster:Cluster", "id": "id-1"},
            ],
        },
    }


def refusal(state_file) -> ParameterError:
    with pytest.raises(ParameterError) as caught:
        load_deployment(state_file, SPEC, "dev")
    assert caught.value.name == "state_file"
    assert str(caught.value).startswith("parameter 'state_file': ")
    return caught.value


def test_valid_deployment__is_still_accepted(tmp_path):
    state_file = tmp_path / "compute-dev.json"
    state_file.write_text(json.dumps(deployment(), indent=4), encoding="utf-8")
    assert load_deployment(state_file, SPEC, "dev") == deployment()
    assert load_deployment(str(state_file), SPEC, "dev") == deployment()


def test_deployment_of_another_environment__is_still_refused(tmp_path):
    state_file = tmp_path / "compute-prod.json"
    state_file.write_text(json.dumps(deployment(environment="prod")), encoding="utf-8")
    assert "another stack" in str(refusal(state_file))


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero__is_refused_as_not_a_regular_file():
    error = refusal("/dev/zero")
    assert "/dev/zero is not a regular file" in str(error)
    assert "at most 256 MiB" in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe__is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "state.json")
    assert "is not a regular file" in str(refusal(tmp_path / "state.json"))


def test_folder__is_refused(tmp_path):
    assert f"{tmp_path} is a folder, not a deployment file" in str(refusal(tmp_path))


def test_huge_file__is_refused_stating_the_limit(tmp_path):
    state_file = tmp_path / "huge.json"
    with state_file.open("wb") as stream:
        stream.truncate(STATE_FILE_LIMIT + 1)  # sparse: costs no disk
    error = refusal(state_file)
    assert f"is {STATE_FILE_LIMIT + 1:,} bytes, more than {STATE_FILE_LIMIT:,}" in str(error)
    assert "expected a JSON file of at most 256 MiB" in str(error)


def test_invalid_json__names_the_line_and_column(tmp_path):
    state_file = tmp_path / "state.json"
    state_file.write_text('{"version": 3,\n  "deployment": {,}}', encoding="utf-8")
    error = refusal(state_file)
    assert f"{state_file} is not JSON: Expecting property name enclosed in double quotes at line 2, column 18" \
        in str(error)


def test_non_utf8_file__names_the_byte_offset(tmp_path):
    state_file = tmp_path / "state.json"
    state_file.write_bytes(b'{"version": 3, "note": "caf\xe9"}')
    assert "is not UTF-8 text: byte 0xe9 at offset 27" in str(refusal(state_file))


@pytest.mark.parametrize("content", ["[" * 200_000 + "]" * 200_000, '{"version": ' + "9" * 5000 + "}"],
                         ids=["nested-too-deeply", "huge-integer"])
def test_json_python_cannot_hold__is_refused(tmp_path, content):
    state_file = tmp_path / "state.json"
    state_file.write_text(content, encoding="utf-8")
    assert "is not a deployment" in str(refusal(state_file))


@pytest.mark.parametrize("state_file", [5, True, ["state.json"]], ids=["number", "bool", "list"])
def test_path_that_is_not_text__is_refused(state_file):
    assert "expected the path of a deployment file as text" in str(refusal(state_file))


def test_missing_file__is_still_named(tmp_path):
    assert "does not exist" in str(refusal(tmp_path / "nowhere.json"))
