"""The self-managed backend layout: paths and JSON shapes as the Pulumi CLI writes them, in folders and in the
sandbox's state bucket; planned deployments; the seeded rehearsal state."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import yaml

from tradai_nb import config, guards
from tradai_nb.engine.plan import plan
from tradai_nb.errors import GuardError, StateError
from tradai_nb.ops import locks
from tradai_nb.records import audit
from tradai_nb.sandbox import planned, rehearsal_data, rehearsal_state
from tradai_nb.settings import HOME_ENV_VAR, PROJECT_ROOT, load_settings
from tradai_nb.stacks.registry import stacks
from tradai_nb.state import backend
from tradai_nb.state.backend import FolderObjectStore, S3ObjectStore, StackRef, StateStore

COMPUTE_DEV = StackRef("tradai-compute", "dev")
WHEN = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def local_plan():
    return plan(load_settings("local"))


@pytest.fixture
def store(tmp_path) -> StateStore:
    return StateStore(FolderObjectStore(tmp_path / "state"))


def small_deployment(ref: StackRef = COMPUTE_DEV) -> dict:
    root = f"urn:pulumi:{ref.stack}::{ref.project}::pulumi:pulumi:Stack::{ref.project}-{ref.stack}"
    return {"manifest": {"time": "2026-03-01T10:00:00Z", "magic": "m", "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:bm9uY2U=:Y3Q="}},
            "resources": [{"urn": root, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"k": "v"}}]}


def test_layout__paths_are_the_clis():
    assert backend.checkpoint_key(COMPUTE_DEV) == ".pulumi/stacks/tradai-compute/dev.json"
    assert backend.checkpoint_key(COMPUTE_DEV, compressed=True) == ".pulumi/stacks/tradai-compute/dev.json.gz"
    assert backend.lock_key(COMPUTE_DEV, "abc") == ".pulumi/locks/organization/tradai-compute/dev/abc.json"
    assert backend.history_dir(COMPUTE_DEV) == ".pulumi/history/tradai-compute/dev"
    assert COMPUTE_DEV.fully_qualified == "organization/tradai-compute/dev"
    assert backend.stack_ref("compute", "dev") == COMPUTE_DEV


@pytest.mark.parametrize("compressed", [False, True], ids=["json", "json-gz"])
def test_checkpoint__written_in_the_clis_shape_and_read_back(store, tmp_path, compressed):
    deployment = small_deployment()

    key = store.write_checkpoint(COMPUTE_DEV, deployment, compressed=compressed)

    raw = (tmp_path / "state" / key).read_bytes()
    assert raw.startswith(b"\x1f\x8b") == compressed
    on_disk = json.loads(gzip.decompress(raw) if compressed else raw)
    assert on_disk == {"version": 3, "checkpoint": {"stack": "organization/tradai-compute/dev", "config": {},
                                                    "latest": deployment}}
    assert store.read_deployment(COMPUTE_DEV) == {"version": 3, "deployment": deployment}
    assert store.stacks() == [COMPUTE_DEV]


def test_checkpoint__a_rewrite_keeps_the_previous_one_as_bak_which_is_no_stack(store, tmp_path):
    first, second = small_deployment(), {**small_deployment(), "resources": []}
    store.write_checkpoint(COMPUTE_DEV, first)

    store.write_checkpoint(COMPUTE_DEV, second)

    backup = json.loads((tmp_path / "state/.pulumi/stacks/tradai-compute/dev.json.bak").read_text())
    assert backup["checkpoint"]["latest"] == first
    assert store.read_deployment(COMPUTE_DEV)["deployment"] == second
    assert store.stacks() == [COMPUTE_DEV]


def test_stacks__only_checkpoints_two_levels_down_count(store, tmp_path):
    store.write_checkpoint(StackRef("tradai-edge", "prod"), small_deployment(StackRef("tradai-edge", "prod")))
    for stray in (".pulumi/stacks/legacy.json", ".pulumi/stacks/tradai-edge/notes.txt",
                  ".pulumi/stacks/tradai-edge/deep/dev.json"):
        (tmp_path / "state" / stray).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "state" / stray).write_text("{}")

    assert store.stacks() == [StackRef("tradai-edge", "prod")]


def test_read_checkpoint__a_missing_stack_names_where_it_looked(store):
    with pytest.raises(StateError, match=r"organization/tradai-compute/dev has no checkpoint .*"
                                         r"\.pulumi/stacks/tradai-compute/dev\.json"):
        store.read_checkpoint(COMPUTE_DEV)


def test_read_checkpoint__a_truncated_one_is_reported_corrupt(store, tmp_path):
    key = store.write_checkpoint(COMPUTE_DEV, small_deployment())
    path = tmp_path / "state" / key
    path.write_bytes(path.read_bytes()[:40])

    with pytest.raises(StateError, match="not valid JSON.*corrupt or truncated"):
        store.read_deployment(COMPUTE_DEV)


def test_locks__written_and_read_in_the_clis_shape(store, tmp_path, monkeypatch):
    monkeypatch.setenv(audit.AUDIT_DIR_VARIABLE, str(tmp_path / "runs"))
    key = store.write_lock(COMPUTE_DEV, "9f1c", pid=77, username="ana", hostname="laptop-3", timestamp=WHEN)

    assert key == ".pulumi/locks/organization/tradai-compute/dev/9f1c.json"
    assert json.loads((tmp_path / "state" / key).read_text()) == {
        "pid": 77, "username": "ana", "hostname": "laptop-3", "timestamp": "2026-03-01T10:00:00Z"}
    [lock] = store.locks()
    assert (lock.ref, lock.lock_id, lock.pid, lock.username, lock.hostname, lock.timestamp) == (
        COMPUTE_DEV, "9f1c", 77, "ana", "laptop-3", WHEN)
    assert lock.age(WHEN + timedelta(hours=2)) == timedelta(hours=2)

    dev = load_settings("dev")
    for refused, settings, confirm in ((GuardError, dev, ""), (GuardError, dev, "Dev"),
                                       (GuardError, load_settings("staging"), "staging")):
        with pytest.raises(refused):
            locks.delete_lock(store, lock, settings, confirm=confirm)
        assert store.locks() == [lock]
    locks.delete_lock(store, lock, dev, confirm="dev")
    assert store.locks() == []
    journal = [(r.action, r.status, r.target) for r in audit.read_records(audit.audit_root())][-5:]
    assert journal == [("state.lock-delete", "refused", COMPUTE_DEV.fully_qualified)] * 3 + [
        ("state.lock-delete", "started", COMPUTE_DEV.fully_qualified),
        ("state.lock-delete", "succeeded", COMPUTE_DEV.fully_qualified)]


def test_history__newest_first_each_with_a_copy_of_its_checkpoint(store, tmp_path):
    store.write_checkpoint(COMPUTE_DEV, small_deployment())
    for version, minutes in ((1, 0), (2, 5)):
        store.add_history(COMPUTE_DEV, kind="update", result="succeeded", version=version,
                          start=WHEN + timedelta(minutes=minutes), end=WHEN + timedelta(minutes=minutes + 1),
                          resource_changes={"create": version})

    entries = store.history(COMPUTE_DEV)

    assert [(e.version, e.kind, e.result, e.resource_changes) for e in entries] == [
        (2, "update", "succeeded", {"create": 2}), (1, "update", "succeeded", {"create": 1})]
    assert entries[0].start_time == WHEN + timedelta(minutes=5)
    names = sorted(p.name for p in (tmp_path / "state/.pulumi/history/tradai-compute/dev").iterdir())
    stamp = int((WHEN + timedelta(minutes=5)).timestamp() * 1_000_000_000)
    assert f"dev-{stamp}.history.json" in names and f"dev-{stamp}.checkpoint.json" in names


def test_deployment_from_plan__has_the_shape_of_a_pulumi_deployment(local_plan):
    settings = load_settings("local")
    stack_plan = local_plan.stack("persistent")

    deployment = rehearsal_state.deployment_from_plan(stack_plan, settings, time=WHEN)

    assert set(deployment) == {"manifest", "secrets_providers", "resources", "pending_operations"}
    manifest = deployment["manifest"]
    assert set(manifest) == {"time", "magic", "version"} and manifest["time"] == "2026-03-01T10:00:00Z"
    assert manifest["magic"] == hashlib.sha256(manifest["version"].encode()).hexdigest()
    assert deployment["secrets_providers"]["type"] == "passphrase"
    assert deployment["secrets_providers"]["state"]["salt"].startswith("v1:")
    root, provider, *planned = deployment["resources"]
    assert (root["type"], root["custom"], root["outputs"]) == ("pulumi:pulumi:Stack", False, stack_plan.exports)
    assert root["urn"] == "urn:pulumi:local::tradai-persistent::pulumi:pulumi:Stack::tradai-persistent-local"
    assert provider["type"] == "pulumi:providers:aws" and provider["custom"] and provider["id"]
    assert len(planned) == len(stack_plan.resources)
    seen = {root["urn"], provider["urn"]}
    for resource, row in zip(planned, stack_plan.resources.itertuples(index=False)):
        assert (resource["urn"], resource["type"], resource["inputs"], resource["protect"]) == (
            row.urn, row.type, row.inputs, row.protect)
        assert {"urn", "custom", "type", "inputs", "outputs", "parent", "dependencies", "protect"} <= set(resource)
        if resource["custom"]:
            assert resource["id"] == row.id and resource["outputs"] == row.outputs
            assert resource["provider"] == f"{provider['urn']}::{provider['id']}"
        # Parents and dependencies come first, as the CLI's integrity check demands.
        assert resource["parent"] in seen and set(resource["dependencies"]) <= seen
        seen.add(resource["urn"])
    guards.check_deployment({"version": 3, "deployment": deployment}, "plan", stacks.get("persistent"), "local")


def test_deployment_from_plan__only_its_times_change_between_runs(local_plan):
    settings = load_settings("local")
    first = rehearsal_state.deployment_from_plan(local_plan.stack("foundation"), settings, time=WHEN)
    later = rehearsal_state.deployment_from_plan(local_plan.stack("foundation"), settings, time=WHEN + timedelta(days=1))

    def untimed(deployment):
        return [{k: v for k, v in r.items() if k not in ("created", "modified")} for r in deployment["resources"]]

    assert untimed(first) == untimed(later)
    assert first["secrets_providers"] == later["secrets_providers"]
    assert first["manifest"]["time"] != later["manifest"]["time"]


def test_seeded_state__one_checkpoint_per_stack_in_the_design_layout(sandbox):
    bucket = config.get_bucket_name(config.STATE_BUCKET_KEY, "local")
    listed = sandbox.session.client("s3").list_objects_v2(Bucket=bucket, Prefix=".pulumi/stacks/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    meta = sandbox.session.client("s3").get_object(Bucket=bucket, Key=".pulumi/meta.yaml")["Body"].read()

    assert {f".pulumi/stacks/tradai-{name}/local.json" for name in stacks.names()} <= keys
    assert yaml.safe_load(meta) == {"version": 1}


def test_seeded_state__checkpoints_parse_and_match_the_local_plan(sandbox, local_plan):
    store = backend.state_store_for(sandbox.settings, sandbox.session)
    sandbox_values = planned.realize(sandbox.session, sandbox.settings).values
    changed = {k for p in local_plan.stacks for k, v in p.exports.items() if planned.in_sandbox(v, sandbox_values) != v}
    assert {"alb_arn", "backtest_queue_url", "rds_address"} <= changed

    for stack_plan in local_plan.stacks:
        ref = backend.stack_ref(stack_plan.name, "local")
        checkpoint = store.read_checkpoint(ref)
        resources = checkpoint["checkpoint"]["latest"]["resources"]
        packages = {t.split(":")[0] for t in stack_plan.resources["type"]}
        assert checkpoint["checkpoint"]["stack"] == f"organization/tradai-{stack_plan.name}/local"
        assert len(resources) == 1 + len(packages) + len(stack_plan.resources), stack_plan.name
        outputs = resources[0]["outputs"]
        assert outputs.keys() == stack_plan.exports.keys()
        # What the sandbox created from the plan carries the sandbox's ids, ARNs, URLs and names instead, and only
        # that: every other export is the plan's.
        assert outputs == planned.in_sandbox(stack_plan.exports, sandbox_values), stack_plan.name
        assert store.history(ref)[0].result == "succeeded"


def test_seeded_state__holds_one_stale_lock_hours_old(sandbox):
    store = backend.state_store_for(sandbox.settings, sandbox.session)

    [lock] = store.locks(backend.stack_ref(rehearsal_data.SEEDED_LOCK_STACK, "local"))

    assert lock.age(datetime.now(timezone.utc)) >= timedelta(hours=2)
    assert (lock.username, lock.hostname, lock.pid) == ("ci-deployer", "build-agent-7", 48213)


def test_state_store_for__local_reads_the_sandbox_bucket_team_environments_their_backend():
    session = boto3.Session(region_name="eu-central-1")

    local = backend.state_store_for(load_settings("local"), session)
    dev = backend.state_store_for(load_settings("dev"), session)

    assert isinstance(local.objects, S3ObjectStore) and local.url == "s3://tradai-pulumi-state-local"
    assert isinstance(dev.objects, S3ObjectStore) and dev.url == "s3://tradai-pulumi-state-dev"


def test_open_object_store__tradai_folders_are_under_tradai_home_other_relative_ones_under_the_project_root(
        tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV_VAR, str(tmp_path))
    store = backend.open_object_store("file://.tradai/backups", None)
    assert isinstance(store, FolderObjectStore) and store.root == tmp_path / "backups"
    assert backend.open_object_store("file://state-copies", None).root == PROJECT_ROOT / "state-copies"


@pytest.mark.parametrize("key", ["../escape.json", "/etc/passwd"], ids=["parent", "absolute"])
def test_folder_store__refuses_keys_that_leave_its_folder(tmp_path, key):
    with pytest.raises(StateError, match="would leave the store"):
        FolderObjectStore(tmp_path).write(key, b"{}")
