"""The digest of each planned resource's inputs: stable from plan to plan, one changed property changes one row, and
secret-named inputs do not reach it."""

from __future__ import annotations

import pulumi
import pytest

from tradai_nb.engine.digest import DIGEST_COLUMNS, input_digests, inputs_digest
from tradai_nb.engine.plan import Plan, plan, plan_program
from tradai_nb.settings import load_settings


def buckets(results_algorithm: str):
    """Three encrypted buckets; only the results bucket's encryption algorithm varies."""

    def program() -> None:
        from pulumi_aws import s3

        for name, algorithm in (("configs", "AES256"), ("results", results_algorithm), ("logs", "AES256")):
            bucket = s3.BucketV2(name, bucket=f"tradai-{name}-local")
            s3.BucketServerSideEncryptionConfigurationV2(
                f"{name}-encryption",
                bucket=bucket.id,
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": algorithm}}],
                opts=pulumi.ResourceOptions(parent=bucket),
            )

    return program


def digests_of(program) -> dict[tuple[str, str], str]:
    settings = load_settings("local")
    table = input_digests(Plan("local", [plan_program(settings, "persistent", program, {})]))
    assert list(table.columns) == DIGEST_COLUMNS
    return {(row.type, row.name): row.inputs_digest for row in table.itertuples()}


def test_input_digests__one_changed_property_changes_exactly_one_row():
    before = digests_of(buckets("AES256"))
    after = digests_of(buckets("aws:kms"))

    assert before.keys() == after.keys() and len(before) == 6
    changed = [key for key in before if before[key] != after[key]]
    assert changed == [("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
                        "results-encryption")]


def test_input_digests__the_same_plan_twice_gives_the_same_table():
    settings = load_settings("local")
    first, second = (input_digests(plan(settings, ["persistent"])) for _ in range(2))

    assert len(first) > 40
    assert first.equals(second)
    assert first["inputs_digest"].str.fullmatch(r"[0-9a-f]{12}").all()
    # Distinct inputs, distinct digests: the column tells resources apart rather than repeating one value.
    assert first["inputs_digest"].nunique() == len(first)


def test_input_digests__a_stored_plan_row_changes_with_one_nested_property():
    estate = plan(load_settings("local"), ["persistent"])
    before = input_digests(estate)
    table = estate.stacks[0].resources
    position = table.index[table["type"] == "aws:dynamodb/table:Table"][0]
    inputs = dict(table.at[position, "inputs"])
    inputs["pointInTimeRecovery"] = {"enabled": not inputs.get("pointInTimeRecovery", {}).get("enabled", False)}
    table.at[position, "inputs"] = inputs

    after = input_digests(estate)
    assert (before["inputs_digest"] != after["inputs_digest"]).sum() == 1
    assert after.at[position, "name"] == table.at[position, "name"]
    assert before.at[position, "inputs_digest"] != after.at[position, "inputs_digest"]


@pytest.mark.parametrize("key", ["password", "masterPassword", "apiKey", "secretString"], ids=str)
def test_inputs_digest__a_secret_named_input_does_not_reach_the_digest(key):
    one = inputs_digest({"name": "db", key: "first-secret-value-1234", "nested": [{key: "x" * 20}]})
    other = inputs_digest({"name": "db", key: "another-secret-value-99", "nested": [{key: "y" * 20}]})

    assert one == other
    assert inputs_digest({"name": "db", key: "v"}) != inputs_digest({"name": "db2", key: "v"})


def test_inputs_digest__a_flag_with_a_secret_word_in_its_name_still_counts():
    assert inputs_digest({"manageMasterUserPassword": True}) != inputs_digest({"manageMasterUserPassword": False})


def test_input_digests__no_plan_gives_an_empty_table():
    table = input_digests(None)

    assert table.empty and list(table.columns) == DIGEST_COLUMNS
