"""No secret value a run could meet lands in any file it writes, locally or in the logs bucket."""

from __future__ import annotations

import secrets

from tradai_nb.aws import session_for
from tradai_nb.records import audit
from tradai_nb.redaction import REDACTED
from tradai_nb.runner import run_notebook
from tradai_nb.settings import load_settings


def _written_bytes(audit_dir, port) -> dict[str, bytes]:
    """Every file under the audit directory and every object under audit/ in the local logs bucket."""
    files = {str(path): path.read_bytes() for path in audit_dir.rglob("*") if path.is_file()}
    s3 = session_for(load_settings("local", {"sandbox_port": port})).client("s3")
    listing = s3.list_objects_v2(Bucket="tradai-logs-local", Prefix="audit/")
    for item in listing.get("Contents", []):
        files[f"s3://tradai-logs-local/{item['Key']}"] = s3.get_object(Bucket="tradai-logs-local", Key=item["Key"])["Body"].read()
    return files


def test_run__no_secret_value_appears_in_any_file_the_run_wrote(probe_notebook, audit_dir, local_logs_bucket,
                                                                 tmp_path, monkeypatch):
    known = {
        "PULUMI_CONFIG_PASSPHRASE": f"passphrase-{secrets.token_hex(8)}",
        "AWS_SECRET_ACCESS_KEY": f"aws/secret+{secrets.token_hex(12)}",
        "AWS_SESSION_TOKEN": f"session-{secrets.token_hex(16)}",
    }
    for name, value in known.items():
        monkeypatch.setenv(name, value)
    api_token = f"tok-{secrets.token_hex(8)}"
    label = f"label{secrets.token_hex(4)}"
    displayed_pulumi_secret = f"rds-{label[::-1]}-pw"
    port = str(local_logs_bucket)

    succeeded = run_notebook(probe_notebook, "local", {"target": "s", "sandbox_port": port, "api_token": api_token,
                                                       "label": label}, progress_bar=False)
    passphrase_from_file = f"file-passphrase-{secrets.token_hex(8)}"
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(passphrase_from_file + "\n")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(passphrase_file))
    failed = run_notebook(probe_notebook, "local", {"target": "f", "sandbox_port": port, "api_token": api_token,
                                                    "fail_message": f"leaked {api_token} and {passphrase_from_file}"},
                          progress_bar=False)

    assert (succeeded.status, failed.status) == ("succeeded", "failed")
    assert succeeded.parameters["api_token"] == REDACTED
    assert failed.error["evalue"] == f"leaked {REDACTED} and {REDACTED}"
    forbidden = [*known.values(), api_token, displayed_pulumi_secret, passphrase_from_file]
    written = _written_bytes(audit_dir, local_logs_bucket)
    assert {str(audit_dir / r.notebook_file) for r in (succeeded, failed)} | {str(audit_dir / audit.INDEX_FILE)} <= set(written)
    uploaded = [where for where in written if where.startswith("s3://") and any(r.id in where for r in (succeeded, failed))]
    chain = f"/audit/{succeeded.chain}/records/"
    assert len([w for w in written if w.startswith("s3://") and chain in w]) == 4  # two runs, two lines each
    assert len(uploaded) == 2  # their notebooks
    leaks = [(where, secret) for where, content in written.items() for secret in forbidden if secret.encode() in content]
    assert leaks == []
    stored = (audit_dir / succeeded.notebook_file).read_text()
    assert stored.count(REDACTED) >= len(forbidden) - 1  # the notebook did print them: they were scrubbed, not absent
    assert audit.local_problems(audit.AuditStore(audit_dir))[1] == []
