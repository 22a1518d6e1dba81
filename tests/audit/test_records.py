"""The audit store: a hash-chained index appended durably ahead of changes; damage refuses changes and is reported."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from datetime import UTC, datetime

import pytest

from tradai_nb.cli import main
from tradai_nb.errors import EXIT_AUDIT_STORE, EXIT_FAILED, EXIT_OK, AuditError, AuditStoreError
from tradai_nb.records import audit
from tradai_nb.records.audit import AuditRecord, AuditStore

# Every field a record's hash covers, pinned here rather than read from the code under test.
HASHED_FIELDS = ["chain", "seq", "id", "kind", "status", "origin", "action", "target", "environment", "operator",
                 "host", "git_commit", "git_dirty", "notebook", "parameters", "start", "end", "duration_s", "stage",
                 "error", "notebook_file", "notebook_sha256", "parent", "prev_hash"]


def _lines(audit_dir) -> list[str]:
    return (audit_dir / audit.INDEX_FILE).read_text().splitlines()


def _write_lines(audit_dir, lines: list[str]) -> None:
    (audit_dir / audit.INDEX_FILE).write_text("".join(line + "\n" for line in lines))


def _problems(audit_dir) -> list[str]:
    return audit.local_problems(AuditStore(audit_dir))[1]


def test_append__chains_each_record_to_the_one_before_and_keeps_its_notebook(audit_dir, append):
    first, second, third = append("dev"), append("local", "failed"), append("prod", "refused", text=None)

    assert [r.seq for r in (first, second, third)] == [1, 2, 3]
    assert [first.prev_hash, second.prev_hash, third.prev_hash] == [None, first.hash, second.hash]
    assert len({first.chain, second.chain, third.chain}) == 1 == len({AuditStore(audit_dir).chain_id(), first.chain})
    assert all(audit.record_hash(json.loads(line)) == json.loads(line)["hash"] for line in _lines(audit_dir))
    assert second.notebook_file == f"local/{second.start[:10]}/{second.id}.failed.ipynb"
    assert third.notebook_file is None and third.notebook_sha256 is None
    assert "hello" in (audit_dir / second.notebook_file).read_text()
    assert _problems(audit_dir) == []


def test_hashed_fields__are_every_field_of_a_record():
    assert sorted(f.name for f in fields(AuditRecord) if f.name != "hash") == sorted(HASHED_FIELDS)


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_local_check__names_the_record_whose_field_was_edited(audit_dir, append, field):
    records = [append() for _ in range(3)]
    line = json.loads(_lines(audit_dir)[1])
    line[field] = {"tampered": True} if not isinstance(line[field], dict) else {**line[field], "tampered": True}
    lines = _lines(audit_dir)
    lines[1] = audit.canonical(line)
    _write_lines(audit_dir, lines)

    problems = _problems(audit_dir)

    assert any("(line 2): its content does not match its hash" in p for p in problems), problems
    assert len(records) == 3


def test_local_check__names_a_line_that_is_no_longer_json_and_an_unfinished_last_line(audit_dir, append):
    records = [append() for _ in range(3)]
    lines = _lines(audit_dir)
    lines[1] = lines[1][:-1]
    (audit_dir / audit.INDEX_FILE).write_text("\n".join(lines))

    problems = _problems(audit_dir)

    assert any(f"record {records[1].id!r} (line 2): is not valid JSON" in p for p in problems)
    assert any("line 3" in p and "no final newline" in p for p in problems)


def test_local_check__names_the_record_after_a_removed_one(audit_dir, append):
    records = [append() for _ in range(3)]
    lines = _lines(audit_dir)
    _write_lines(audit_dir, [lines[0], lines[2]])

    assert any(f"record {records[2].id!r} (line 2): its prev_hash" in p for p in _problems(audit_dir))


def test_local_check__names_changed_missing_and_unrecorded_notebooks(audit_dir, append):
    changed, missing = append(text="one"), append(text="two")
    stored = audit_dir / changed.notebook_file
    stored.write_bytes(stored.read_bytes().replace(b"one", b"One", 1))
    (audit_dir / missing.notebook_file).unlink()
    stray = audit_dir / "dev" / "2026-01-01" / "forged.ipynb"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")

    problems = "\n".join(_problems(audit_dir))

    assert f"record {changed.id!r}" in problems and "does not match its SHA-256" in problems
    assert f"record {missing.id!r}" in problems and "is missing" in problems
    assert f"{stray}: a notebook no record of the index refers to" in problems


@pytest.mark.parametrize("damage", ["garbage-line", "no-final-newline", "edited-record", "emptied", "deleted"])
def test_append__to_a_damaged_index_is_refused_naming_the_file_and_the_fix_and_writes_nothing(
        audit_dir, append, damage):
    append(), append()
    index = audit_dir / audit.INDEX_FILE
    if damage == "garbage-line":
        index.write_text(index.read_text() + "not a record\n")
    elif damage == "no-final-newline":
        index.write_text(index.read_text().rstrip("\n"))
    elif damage == "edited-record":
        index.write_text(index.read_text().replace('"operator":"ana"', '"operator":"bob"', 1))
    elif damage == "emptied":
        index.write_text("")
    else:
        index.unlink()
    before = sorted(p.relative_to(audit_dir).as_posix() for p in audit_dir.rglob("*"))
    content = index.read_bytes() if index.exists() else None

    with pytest.raises(AuditStoreError) as caught:
        append()

    message = str(caught.value)
    assert str(index) in message and "nothing was touched" in message and "aside" in message
    assert sorted(p.relative_to(audit_dir).as_posix() for p in audit_dir.rglob("*")) == before
    assert (index.read_bytes() if index.exists() else None) == content


def test_append__to_a_folder_that_cannot_be_written_is_refused(tmp_path, make_entry):
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the audit folder should be")
    store = AuditStore(blocker)

    with pytest.raises(AuditStoreError, match="cannot be written"):
        store.append(make_entry())
    assert blocker.read_text() == "a file where the audit folder should be"


def test_append__fsyncs_the_line_before_returning(audit_dir, append, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(audit.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                         real_fsync(fd)))

    append(text=None)

    assert str(audit_dir / audit.INDEX_FILE) in synced


def test_entries__merge_started_and_outcome_and_show_where_each_came_from(audit_dir, append):
    moment = datetime(2025, 1, 5, 9, 0, tzinfo=UTC)
    started = append(status="started", started=moment, text=None, end=None, duration_s=None)
    append(status="succeeded", started=moment, text=None, id=started.id)
    other = append("staging", "refused", started=datetime(2025, 2, 6, tzinfo=UTC), text=None, origin="interactive")

    found = audit.list_records(audit_dir)

    assert [(e.id, e.status, e.origin) for e in found] == [(started.id, "succeeded", "python"),
                                                          (other.id, "refused", "interactive")]
    assert [e.id for e in audit.list_records(audit_dir, "staging")] == [other.id]
    assert [e.id for e in audit.list_records(audit_dir, since=datetime(2025, 2, 1, tzinfo=UTC))] == [other.id]
    assert audit.find_record(audit_dir, started.id[:20]).records[0].status == "started"
    assert list(audit.records_table(found)["origin"]) == ["python", "interactive"]
    with pytest.raises(AuditError, match="no audit record 'nope'"):
        audit.find_record(audit_dir, "nope")


def test_audit_cli__list_shows_origins_show_prints_every_line_and_verify_fails_on_damage(audit_dir, append, capsys):
    record = append("dev", status="started", text=None, end=None, duration_s=None)
    append("dev", id=record.id)

    assert main(["audit", "list", "--env", "dev"]) == EXIT_OK
    listing = capsys.readouterr().out
    assert record.id in listing and "python" in listing and "succeeded" in listing
    assert main(["audit", "show", record.id]) == EXIT_OK
    shown = capsys.readouterr().out
    assert shown.count(f'"id": "{record.id}"') == 2
    assert main(["audit", "verify", "--local-only"]) == EXIT_OK
    assert "2 records" in capsys.readouterr().out

    index = audit_dir / audit.INDEX_FILE
    index.write_text(index.read_text() + "{broken\n")
    assert main(["audit", "verify", "--local-only"]) == EXIT_FAILED
    out = capsys.readouterr().out
    assert "line 3" in out and "not valid JSON" in out and "Traceback" not in out
    assert main(["audit", "list"]) != EXIT_OK


def test_audit_cli__verify_of_a_folder_that_does_not_exist_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "nonexistent"))

    assert main(["audit", "verify"]) == EXIT_FAILED
    assert "there is no audit folder here" in capsys.readouterr().out


def test_audit_cli__a_broken_pipe_ends_quietly(audit_dir, append, tmp_path):
    import subprocess
    import sys

    for _ in range(30):
        append(text=None)
    command = f"{sys.executable} -m tradai_nb audit list | head -1"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                          env={**os.environ, audit.AUDIT_DIR_VARIABLE: str(audit_dir)})

    assert done.stdout.strip() and "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr


def test_store_error__exits_with_its_own_code(audit_dir, append, monkeypatch, capsys):
    from tradai_nb.settings import load_settings

    append()
    (audit_dir / audit.INDEX_FILE).write_text("garbage\n")
    monkeypatch.setenv("TRADAI_AUDIT_DIR", str(audit_dir))

    code = main(["stack", "up", "--stack", "edge", "--env", "dev"])

    assert code == EXIT_AUDIT_STORE
    assert "damaged" in capsys.readouterr().err
    assert load_settings("dev").environment == "dev"
