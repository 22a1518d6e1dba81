"""Params files that are not small flat UTF-8 YAML files are refused naming the file (and key) and what is expected."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tradai_nb.errors import SettingsError
from tradai_nb.settings import MAX_PARAMS_BYTES, MAX_PARAMS_DEPTH, PARAMS_DIR, load_settings, read_params

# Billion laughs: nine levels of nine aliases each, 9**9 (387 million) strings if anything expanded it.
ALIAS_BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["environment: dev", ""]
)


def params_file(tmp_path: Path, content: str | bytes, name: str = "dev.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_alias_bomb__is_refused_within_a_second_saying_params_files_are_flat(tmp_path):
    path = params_file(tmp_path, ALIAS_BOMB)
    started = time.process_time()
    with pytest.raises(SettingsError, match=r"anchors and aliases \(&a0 / \*a0\) are not allowed: params files are "
                                            r"flat key: value files") as caught:
        read_params(path)
    assert time.process_time() - started < 1.0
    assert caught.value.path == str(path)
    assert caught.value.key == "a0"
    assert str(caught.value).startswith(f"{path}:1:")


@pytest.mark.parametrize(("content", "key"), [
    ("environment: dev\nazs: &zones [eu-central-1a, eu-central-1b]\n", "azs"),
    ("environment: dev\nazs: *zones\n", "azs"),
    ("environment: dev\nnested:\n  inner: &x 1\n", "nested"),
], ids=["anchor-alone", "alias-alone", "nested-anchor"])
def test_anchor_or_alias__is_refused_naming_the_key(tmp_path, content, key):
    path = params_file(tmp_path, content)
    with pytest.raises(SettingsError, match="anchors and aliases") as caught:
        read_params(path)
    assert caught.value.key == key
    assert f"key {key!r}" in str(caught.value)


def test_deep_nesting__is_refused_naming_the_key_and_the_limit(tmp_path):
    path = params_file(tmp_path, "environment: dev\nx: " + "[" * 50_000 + "\n")
    with pytest.raises(SettingsError, match=f"nested more than {MAX_PARAMS_DEPTH} levels deep; params files are flat") \
            as caught:
        read_params(path)
    assert (caught.value.path, caught.value.key) == (str(path), "x")


def test_nesting_within_the_limit__is_read(tmp_path):
    path = params_file(tmp_path, "x: " + "[" * MAX_PARAMS_DEPTH + "]" * MAX_PARAMS_DEPTH + "\n")
    expected: list = []
    for _ in range(MAX_PARAMS_DEPTH - 1):
        expected = [expected]
    assert read_params(path) == {"x": expected}


def test_oversized_file__is_refused_stating_the_limit(tmp_path):
    path = tmp_path / "dev.yaml"
    with path.open("wb") as stream:
        stream.truncate(MAX_PARAMS_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(SettingsError, match=r"is 1,048,577 bytes, more than 1,048,576; a params file is at most 1 MiB \(1,048,576 bytes\)") \
            as caught:
        read_params(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(str(path))


def test_non_utf8_file__names_the_file_and_the_byte_offset(tmp_path):
    content = "environment: dev\naws_profile: caf\xe9\n".encode("latin-1")
    path = params_file(tmp_path, content)
    offset = content.index(b"\xe9")
    with pytest.raises(SettingsError, match=rf"is not UTF-8 text: byte 0xe9 at offset {offset} \(line 2\)") as caught:
        read_params(path)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(str(path))


def test_folder_as_params_file__is_refused(tmp_path):
    (tmp_path / "dev.yaml").mkdir()
    with pytest.raises(SettingsError, match="dev.yaml: is a folder, not a params file") as caught:
        load_settings("dev", params_dir=tmp_path)
    assert caught.value.path == str(tmp_path / "dev.yaml")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_as_params_file__is_refused_at_once():
    with pytest.raises(SettingsError, match="/dev/zero: is not a regular file") as caught:
        read_params(Path("/dev/zero"))
    assert caught.value.path == "/dev/zero"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_as_params_file__is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "dev.yaml")
    with pytest.raises(SettingsError, match="is not a regular file"):
        read_params(tmp_path / "dev.yaml")


@pytest.mark.parametrize(("content", "key", "expected"), [
    ("environment: dev\nstarted: 2026-13-45\n", "started", r"cannot read the value '2026-13-45' as timestamp"),
    ("environment: dev\nsandbox_port: " + "9" * 5000 + "\n", "sandbox_port", "as int"),
    ("environment: dev\nsandbox_port: !!int five\n", "sandbox_port", "cannot read the value 'five' as int"),
], ids=["impossible-date", "huge-integer", "tagged-int"])
def test_value_that_does_not_convert__names_the_key(tmp_path, content, key, expected):
    path = params_file(tmp_path, content)
    with pytest.raises(SettingsError, match=expected) as caught:
        read_params(path)
    assert caught.value.key == key
    assert caught.value.path == str(path)


@pytest.mark.parametrize(("content", "expected"), [
    ("", "expected a mapping of settings at the top level .* got an empty file"),
    ("- environment\n", "expected a mapping of settings at the top level .* got list"),
    ("1: dev\n", "key 1: expected setting names"),
    ("a: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("a: \x00\n", "not valid YAML"),
], ids=["empty", "list", "number-key", "python-tag", "nul-character"])
def test_not_a_flat_mapping__is_refused_naming_the_file(tmp_path, content, expected):
    path = params_file(tmp_path, content)
    with pytest.raises(SettingsError, match=expected) as caught:
        read_params(path)
    assert caught.value.path == str(path)


def test_real_params_files__are_still_read():
    assert read_params(PARAMS_DIR / "dev.yaml")["environment"] == "dev"
    assert load_settings("prod").environment == "prod"
