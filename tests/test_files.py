"""files.write_atomically: the target is replaced whole or not at all, and no temporary file is ever left behind."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from tradai_nb import files
from tradai_nb.errors import StateError
from tradai_nb.state.backend import FolderObjectStore


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_target_is_replaced_whole(tmp_path):
    target = tmp_path / "deep" / "er" / "state.json"
    files.write_atomically(target, b"a much longer first version of the file\n" * 100)
    files.write_atomically(target, b"short\n")
    assert target.read_bytes() == b"short\n"
    assert _leftovers(target.parent) == []


def test_the_file_is_the_owners_only_unless_a_mode_is_given(tmp_path):
    private, shared = tmp_path / "private", tmp_path / "shared"
    files.write_atomically(private, b"x")
    files.write_atomically(shared, b"x", mode=0o644)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644


def test_content_that_cannot_be_written_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    files.write_atomically(target, b"old")
    with pytest.raises(TypeError):
        files.write_atomically(target, "text, not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    files.write_atomically(target, b"old")

    def refuse(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        files.write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_concurrent_writers_never_leave_a_torn_file(tmp_path):
    target = tmp_path / "state.json"
    # Large enough that a write takes several system calls; each writer's content is one byte repeated.
    contents = [bytes([ord("a") + n]) * 4_000_000 for n in range(4)]
    files.write_atomically(target, contents[0])
    reads, torn = [0], []
    stop = threading.Event()

    def read_until_stopped():
        while not stop.is_set():
            content = target.read_bytes()
            reads[0] += 1
            if content not in contents:
                torn.append(len(content))

    failures: list[OSError] = []

    def write(content):
        try:
            for _ in range(10):
                files.write_atomically(target, content)
        except OSError as exc:  # a writer's failure is the test's, not lost in its thread
            failures.append(exc)

    reader = threading.Thread(target=read_until_stopped)
    writers = [threading.Thread(target=write, args=(c,)) for c in contents]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    reader.join()
    assert failures == []
    assert reads[0] > 0, "the reader never ran"
    assert torn == [], "a reader saw a file mixing two writes or cut short"
    assert target.read_bytes() in contents
    assert _leftovers(tmp_path) == []


def test_the_state_folder_store_writes_atomically_and_says_what_failed(tmp_path, monkeypatch):
    store = FolderObjectStore(tmp_path / "state")
    store.write(".pulumi/stacks/tradai-compute/dev.json", b"{}")
    store.write(".pulumi/stacks/tradai-compute/dev.json", b'{"version": 3}')
    folder = tmp_path / "state/.pulumi/stacks/tradai-compute"
    assert (folder / "dev.json").read_bytes() == b'{"version": 3}'

    def refuse(source, destination):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(StateError, match=r"cannot write .*dev\.json.*Permission denied"):
        store.write(".pulumi/stacks/tradai-compute/dev.json", b"torn?")
    assert (folder / "dev.json").read_bytes() == b'{"version": 3}'
    assert _leftovers(folder) == []
