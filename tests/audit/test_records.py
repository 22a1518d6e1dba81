"""Audit records: the chain, verification naming the first bad record, atomic writes, listing and lookup."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime

import pytest

from tradai_nb import audit
from tradai_nb.cli import main
from tradai_nb.errors import AuditError
from tradai_nb.settings import load_settings


def _lines(audit_dir) -> list[str]:
    return (audit_dir / audit.INDEX_FILE).read_text().splitlines()


def _rewrite_line(audit_dir, index: int, line: str) -> None:
    lines = _lines(audit_dir)
    lines[index] = line
    (audit_dir / audit.INDEX_FILE).write_text("\n".join(lines) + "\n")


def test_finish__writes_the_notebook_and_chains_each_record_to_the_one_before(audit_dir, record_run):
    first, second, third = record_run("dev"), record_run("local", "failed"), record_run("prod", "refused")

    assert [first.prev_hash, second.prev_hash, third.prev_hash] == [None, first.hash, second.hash]
    assert [json.loads(line)["id"] for line in _lines(audit_dir)] == [first.id, second.id, third.id]
    assert all(audit.record_hash(json.loads(line)) == json.loads(line)["hash"] for line in _lines(audit_dir))
    assert second.notebook_file == f"local/{second.start[:10]}/{second.id}.ipynb" and "-foundation" in second.id
    stored = json.loads((audit_dir / second.notebook_file).read_text())
    assert stored["metadata"]["papermill"]["output_path"] == second.notebook_file
    assert second.error == {"ename": "RuntimeError", "evalue": "boom", "cell": 1}
    assert (first.operator, first.host) != ("", "") and first.git_commit and first.git_dirty in (True, False)
    assert audit.verify(audit_dir) == 3


def test_finish__gives_runs_started_in_the_same_second_distinct_ids(audit_dir, record_run):
    moment = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)

    ids = [record_run(started=moment).id for _ in range(3)]

    assert ids == ["20250301T120000Z-foundation", "20250301T120000Z-foundation-2", "20250301T120000Z-foundation-3"]
    assert audit.verify(audit_dir) == 3


def test_verify__names_the_record_whose_notebook_changed_by_one_byte(audit_dir, record_run):
    _, tampered, _ = record_run(text="one"), record_run(text="two"), record_run(text="three")
    stored = audit_dir / tampered.notebook_file
    content = bytearray(stored.read_bytes())
    content[content.index(b"two")] = ord("T")
    stored.write_bytes(bytes(content))

    with pytest.raises(AuditError, match=f"record '{tampered.id}' .*does not match its SHA-256"):
        audit.verify(audit_dir)


@pytest.mark.parametrize(
    ("old", "new"),
    [('"status":"succeeded"', '"status":"succeedex"'), ('"environment":"dev"', '"environment":"deV"'),
     ('"duration_s":', '"duration_s":1'), ('"hash":"', '"hash":"0')],
    ids=["status", "parameter", "duration", "hash"],
)
def test_verify__names_the_record_edited_by_one_byte(audit_dir, record_run, old, new):
    records = [record_run() for _ in range(3)]
    line = _lines(audit_dir)[1]
    assert old in line
    _rewrite_line(audit_dir, 1, line.replace(old, new, 1))

    with pytest.raises(AuditError, match=f"record '{records[1].id}' \\(line 2 .*changed after it was written"):
        audit.verify(audit_dir)


def test_verify__names_the_record_whose_line_is_no_longer_json(audit_dir, record_run):
    records = [record_run() for _ in range(2)]
    _rewrite_line(audit_dir, 1, _lines(audit_dir)[1][:-1])

    with pytest.raises(AuditError, match=f"record '{records[1].id}' \\(line 2 .* not valid JSON"):
        audit.verify(audit_dir)


def test_verify__names_the_record_after_a_removed_one(audit_dir, record_run):
    records = [record_run() for _ in range(3)]
    lines = _lines(audit_dir)
    (audit_dir / audit.INDEX_FILE).write_text(lines[0] + "\n" + lines[2] + "\n")

    with pytest.raises(AuditError, match=f"record '{records[2].id}' \\(line 2 .*prev_hash does not match"):
        audit.verify(audit_dir)


def test_finish__a_crash_while_replacing_the_index_leaves_the_previous_index_whole(audit_dir, record_run, monkeypatch):
    record_run()
    before = (audit_dir / audit.INDEX_FILE).read_bytes()
    real_replace = os.replace

    def crash_on_index(source, target):
        if str(target).endswith(audit.INDEX_FILE):
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(audit.os, "replace", crash_on_index)
    with pytest.raises(OSError, match="disk full"):
        record_run()

    assert (audit_dir / audit.INDEX_FILE).read_bytes() == before
    assert not list(audit_dir.rglob("*.tmp"))
    assert audit.verify(audit_dir) == 1


def test_finish__an_upload_failure_is_noted_and_the_local_record_kept(audit_dir, record_run):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = load_settings("local", {"sandbox_port": closed_port})

    record = record_run("local", settings=settings)

    assert record.upload["bucket"] == "tradai-logs-local"
    assert record.upload["notebook_key"] == f"audit/{record.notebook_file}"
    assert record.upload["error"].startswith("EndpointConnectionError")
    assert json.loads(_lines(audit_dir)[0])["upload"] == record.upload
    assert audit.verify(audit_dir) == 1


def test_list_records__filters_by_environment_and_start(audit_dir, record_run):
    old = record_run("dev", started=datetime(2025, 1, 5, 9, 0, tzinfo=UTC))
    new = record_run("dev", started=datetime(2025, 2, 5, 9, 0, tzinfo=UTC))
    other = record_run("staging", started=datetime(2025, 2, 6, 9, 0, tzinfo=UTC))

    assert [r.id for r in audit.list_records(audit_dir)] == [old.id, new.id, other.id]
    assert [r.id for r in audit.list_records(audit_dir, "dev")] == [old.id, new.id]
    assert [r.id for r in audit.list_records(audit_dir, since=datetime(2025, 2, 1, tzinfo=UTC))] == [new.id, other.id]
    assert list(audit.records_table([new])["status"]) == ["succeeded"]


def test_find_record__by_id_or_unique_prefix(audit_dir, record_run):
    first = record_run(started=datetime(2025, 1, 5, 9, 0, tzinfo=UTC))
    record_run(started=datetime(2025, 1, 5, 10, 0, tzinfo=UTC))

    assert audit.find_record(audit_dir, first.id) == first
    assert audit.find_record(audit_dir, "20250105T09") == first
    with pytest.raises(AuditError, match="matches 2 records"):
        audit.find_record(audit_dir, "20250105T")
    with pytest.raises(AuditError, match="no audit record 'nope'"):
        audit.find_record(audit_dir, "nope")


def test_audit_cli__list_show_and_verify(audit_dir, record_run, capsys):
    record = record_run("dev")
    record_run("local")

    assert main(["audit", "list", "--env", "dev"]) == 0
    listing = capsys.readouterr().out
    assert record.id in listing and "local" not in listing.split("\n", 1)[1]
    assert main(["audit", "show", record.id]) == 0
    assert f'"id": "{record.id}"' in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert "2 records verified" in capsys.readouterr().out

    stored = audit_dir / record.notebook_file
    stored.write_bytes(stored.read_bytes().replace(b"hello", b"hellO", 1))
    assert main(["audit", "verify"]) != 0
    assert f"record '{record.id}'" in capsys.readouterr().err
