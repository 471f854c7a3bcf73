"""GraphQL validation runs once per distinct document: the limiters' rules are built once, so
strawberry's ValidationCache (keyed by the rule classes) hits on the next identical request."""

from __future__ import annotations

import uuid

import pytest
import strawberry.schema.schema as strawberry_schema

from puente.graphql.schema import build_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def validations(monkeypatch) -> list[int]:
    """One entry per time graphql-core's ``validate`` really ran (a cache miss)."""
    calls: list[int] = []
    real = strawberry_schema.validate

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    return calls


@pytest.mark.parametrize("introspection", [True, False])
async def test_a_second_identical_query_is_not_validated_again(validations, introspection):
    schema = build_schema(introspection=introspection)
    query = f"query Q{uuid.uuid4().hex} {{ __typename }}"  # a document no cache has seen
    first = await schema.execute(query)
    assert first.errors is None and len(validations) == 1
    second = await schema.execute(query)
    assert second.errors is None
    assert len(validations) == 1  # answered from the cache


async def test_the_limits_still_refuse_and_their_refusal_is_cached_too(validations):
    schema = build_schema(max_depth=2)
    deep = f"query D{uuid.uuid4().hex} {{ viewer {{ loans {{ edges {{ node {{ id }} }} }} }} }}"
    aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(16)) + " }"
    for _ in range(2):
        too_deep = await schema.execute(deep)
        too_many = await schema.execute(aliases)
        assert too_deep.errors and "exceeds maximum operation depth" in too_deep.errors[0].message
        assert too_many.errors and "aliases" in too_many.errors[0].message
    assert len(validations) == 2  # one per distinct document, not per request


def test_two_schemas_with_different_limits_do_not_share_rules():
    from puente.graphql.schema import validation_rules

    assert validation_rules(max_depth=5) is validation_rules(max_depth=5)
    assert validation_rules(max_depth=5) != validation_rules(max_depth=6)
