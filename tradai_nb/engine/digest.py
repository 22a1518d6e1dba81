"""A short digest of each planned resource's inputs, so a stored plan table changes when any one property changes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from tradai_nb.engine.plan import Plan
from tradai_nb.redaction import REDACTED, is_secret_name

DIGEST_COLUMNS = ["stack", "type", "name", "inputs_digest"]
DIGEST_LENGTH = 12


def input_digests(plan: Plan | None) -> pd.DataFrame:
    """One row per planned resource (stack, type, name) with the first DIGEST_LENGTH hex characters of the sha256
    of its inputs as canonical JSON; empty without a plan (actions other than `plan`)."""
    if plan is None:
        return pd.DataFrame(columns=DIGEST_COLUMNS)
    rows = [
        (row.stack, row.type, row.name, inputs_digest(row.inputs)) for row in plan.resources.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=DIGEST_COLUMNS)


def inputs_digest(inputs: Any) -> str:
    """The digest of one resource's inputs, with the values of secret-named inputs redacted first: the digest
    depends only on what may be shown."""
    canonical = json.dumps(_redacted(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        # A flag such as generateSecret or manageMasterUserPassword holds no secret; its value stays.
        return {
            key: REDACTED if is_secret_name(str(key)) and not isinstance(item, bool) else _redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value
