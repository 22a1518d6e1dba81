"""Fixtures for runner tests: a private moto server, an isolated audit directory and AWS config, a probe notebook."""

from __future__ import annotations

import nbformat
import pytest
from moto.server import ThreadedMotoServer

from tradai_nb import config
from tradai_nb.aws import session_for
from tradai_nb.settings import load_settings

# A notebook exercising every kind of parameter; it prints what it was given, so tests can read the outputs.
PROBE_PARAMETERS = """\
environment = "local"
label = "probe"  # free text
count = 1
ratio = 0.5
verbose = False
api_token = ""
target = None  # required: what the probe is about
fail_message = ""
refuse = False"""
PROBE_CELLS = [
    "import json, os\nfrom tradai_nb.errors import GuardError\nfrom tradai_nb.settings import from_parameters",
    "print('types', type(count).__name__, type(ratio).__name__, type(verbose).__name__, count, ratio, verbose)\n"
    "print('target', target, 'label', label, 'token', api_token)\n"
    "print('retention', from_parameters(globals()).log_retention_days)",
    "for name in ('PULUMI_CONFIG_PASSPHRASE', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID'):\n"
    "    print(name, os.environ.get(name))\n"
    "passphrase_file = os.environ.get('PULUMI_CONFIG_PASSPHRASE_FILE')\n"
    "print('file', open(passphrase_file).read() if passphrase_file else None)",
    "stack_secret = 'rds-' + label[::-1] + '-pw'\n"
    "envelope = {'4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270', 'plaintext': json.dumps(stack_secret)}\n"
    "print(json.dumps({'db_password': envelope}))\n"
    "{'db_password': envelope}",
    "if refuse:\n    raise GuardError('probe refused on purpose')\nif fail_message:\n    raise RuntimeError(fail_message)",
]


@pytest.fixture
def probe_notebook(tmp_path):
    """A probe notebook outside notebooks/stacks (so no stack guards apply to it)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell(PROBE_PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Probe"), parameters, *map(nbformat.v4.new_code_cell, PROBE_CELLS)]
    path = tmp_path / "notebooks" / "probe.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def audit_dir(tmp_path, monkeypatch):
    """Audit records go to a temporary directory; no AWS profile or key of this machine is visible."""
    directory = tmp_path / "runs"
    monkeypatch.setenv("TRADAI_AUDIT_DIR", str(directory))
    empty = tmp_path / "aws-config"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"):
        monkeypatch.delenv(name, raising=False)
    return directory


@pytest.fixture(scope="session")
def moto_port():
    """A moto server on a free loopback port, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()[1]
    server.stop()


@pytest.fixture
def local_logs_bucket(moto_port):
    """The local environment pointed at the moto server, with its logs bucket; returns the run's sandbox_port."""
    settings = load_settings("local", {"sandbox_port": moto_port})
    s3 = session_for(settings).client("s3")
    bucket = config.get_bucket_name("logs", "local")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region},
                         ObjectLockEnabledForBucket=True)
    return moto_port
