"""Anchored chains on the sandbox: records uploaded under Object Lock, and every tampering the local chain cannot see
found by comparing it with those copies."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tradai_nb import config
from tradai_nb.cli import main
from tradai_nb.errors import EXIT_AUDIT_UNREACHABLE, EXIT_FAILED, EXIT_OK
from tradai_nb.records import anchoring, audit
from tradai_nb.records.audit import AuditStore

pytestmark = pytest.mark.sandbox
BUCKET = config.get_bucket_name(config.LOGS_BUCKET_KEY, "local")


@pytest.fixture
def anchored(sandbox, audit_dir, append):
    """Three local records, uploaded to the sandbox's logs bucket: (store, records)."""
    records = [append("local"), append("local", text=None), append("local", "failed")]
    store = AuditStore(audit_dir)
    result = anchoring.upload_pending(store, sandbox.settings)
    assert (result.error, result.uploaded) == (None, 3)
    return store, records


def _verify(store):
    return anchoring.verify(store, ["local"])


def _index(store):
    return store.index.read_text().splitlines()


def test_upload__puts_every_record_and_notebook_under_object_lock(sandbox, anchored):
    store, records = anchored
    s3 = sandbox.session.client("s3")

    for record in records:
        key = anchoring.record_key(record.chain, record.seq)
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == record.to_line().encode()
        assert s3.head_object(Bucket=BUCKET, Key=key)["ObjectLockMode"] == "GOVERNANCE"
    notebook = s3.get_object(Bucket=BUCKET, Key=anchoring.notebook_key(records[0].chain, records[0].notebook_file))
    assert notebook["Body"].read() == (store.root / records[0].notebook_file).read_bytes()
    assert _verify(store).ok, _verify(store)


def test_uploaded_record__cannot_be_deleted_or_overwritten_in_place(sandbox, anchored):
    _, records = anchored
    s3 = sandbox.session.client("s3")
    key = anchoring.record_key(records[0].chain, records[0].seq)
    version = s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]

    with pytest.raises(ClientError) as caught:
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)

    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read() == records[0].to_line().encode()


def test_verify__finds_the_last_records_removed(anchored):
    store, records = anchored
    # A careful tamperer removes the notebooks of the records too: the local chain then looks intact.
    store.index.write_text("".join(line + "\n" for line in _index(store)[:1]))
    for removed in records[1:]:
        if removed.notebook_file:
            (store.root / removed.notebook_file).unlink()

    result = _verify(store)

    assert not result.ok and audit.local_problems(store)[1] == []
    for removed in records[1:]:
        assert any(removed.id in p and "missing from the local index" in p for p in result.problems)


def test_verify__finds_a_chain_recomputed_after_an_edit(anchored):
    store, records = anchored
    rewritten, previous = [], None
    for line in _index(store):
        data = json.loads(line)
        if data["seq"] == 2:
            data["status"] = "succeeded" if data["status"] != "succeeded" else "failed"
        data["prev_hash"] = previous
        data["hash"] = audit.record_hash(data)
        previous = data["hash"]
        rewritten.append(audit.canonical(data))
    store.index.write_text("".join(line + "\n" for line in rewritten))

    result = _verify(store)

    assert audit.local_problems(store)[1] == [], "the recomputed chain should look intact on its own"
    assert any(records[1].id in p and "differs from its uploaded copy" in p for p in result.problems)


def test_verify__finds_a_record_appended_without_an_upload(anchored, append):
    store, _ = anchored
    forged = append("local", text=None)

    result = _verify(store)

    assert any(forged.id in p and "not in the uploaded copy" in p for p in result.problems)


@pytest.mark.parametrize("damage", ["emptied", "deleted"])
def test_verify__finds_an_emptied_or_deleted_index(anchored, damage):
    store, records = anchored
    if damage == "emptied":
        store.index.write_text("")
    else:
        store.index.unlink()

    result = _verify(store)

    assert any("the index is" in p for p in result.problems)
    assert all(any(r.id in p and "missing from the local index" in p for p in result.problems) for r in records)


def test_verify__finds_a_notebook_kept_without_a_record(anchored):
    store, records = anchored
    stray = store.root / "local" / records[0].start[:10] / "planted.ipynb"
    stray.write_text("{}")

    assert any("planted.ipynb" in p and "no record" in p for p in _verify(store).problems)


def test_audit_cli__verify_exits_1_on_tampering_and_13_when_a_bucket_cannot_be_read(anchored, append, capsys):
    store, _ = anchored
    assert main(["audit", "verify", "--env", "local"]) == EXIT_OK
    assert "matches its uploaded copies" in capsys.readouterr().out

    append("dev", text=None)
    assert main(["audit", "verify", "--env", "local", "--env", "dev"]) == EXIT_AUDIT_UNREACHABLE
    assert "UNREACHABLE: dev" in capsys.readouterr().out

    store.index.write_text("".join(line + "\n" for line in _index(store)[:2]))
    assert main(["audit", "verify", "--env", "local"]) == EXIT_FAILED
    assert "PROBLEM" in capsys.readouterr().out


def test_upload__a_failed_upload_is_retried_by_the_next_one(sandbox, audit_dir, append, free_port):
    from tradai_nb.settings import load_settings

    store = AuditStore(audit_dir)
    first = append("local", text=None)
    closed = load_settings("local", {"sandbox_port": free_port})
    assert anchoring.upload_pending(store, closed).error
    append("local", text=None)

    result = anchoring.upload_pending(store, sandbox.settings)

    assert (result.error, result.uploaded) == (None, 2)
    assert _verify(store).ok
    assert first.id in store.index.read_text()
