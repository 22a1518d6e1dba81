"""The mock runtime's registration order: dependencies first, and the same order on every run."""

from __future__ import annotations

import random

import pytest

from tradai_nb.engine.mock_runtime import Registration, _in_dependency_order

STACK = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"


def _registration(name: str, *dependencies: str, parent: str = STACK) -> Registration:
    return Registration(type="aws:s3/bucket:Bucket", name=name, urn=f"urn:{name}", parent=parent, custom=True,
                        protect=False, inputs={}, id=name, outputs={}, dependencies=tuple(f"urn:{d}" for d in dependencies))


REGISTRATIONS = [
    _registration("trail", "policy"),
    _registration("policy", "bucket"),
    _registration("bucket"),
    _registration("table"),
    _registration("child", parent="urn:table"),
    _registration("lifecycle", "versioning", "bucket"),
    _registration("versioning", "bucket"),
]


@pytest.mark.parametrize("seed", range(5), ids=[f"shuffle-{s}" for s in range(5)])
def test_in_dependency_order__is_the_same_whatever_order_registrations_arrive(seed):
    shuffled = REGISTRATIONS[:]
    random.Random(seed).shuffle(shuffled)

    assert [r.name for r in _in_dependency_order(shuffled)] == [r.name for r in _in_dependency_order(REGISTRATIONS)]


def test_in_dependency_order__puts_parents_and_dependencies_first():
    ordered = [r.name for r in _in_dependency_order(REGISTRATIONS)]

    for earlier, later in [("bucket", "policy"), ("policy", "trail"), ("versioning", "lifecycle"), ("table", "child")]:
        assert ordered.index(earlier) < ordered.index(later), (earlier, later)
    assert sorted(ordered) == sorted(r.name for r in REGISTRATIONS)
