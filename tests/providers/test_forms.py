"""Bracket form encoding, as Stripe's SDK writes it and as simulators read it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puente.providers.forms import FormDecodeError, decode_form, encode_form


def test_encodes_like_the_stripe_sdk() -> None:
    params = {
        "amount": 1000,
        "confirm": True,
        "skip": None,
        "payment_method_types": ["card", "oxxo"],
        "metadata": {"a": "1"},
        "items": [{"price": "p_1", "quantity": 2}],
    }
    assert encode_form(params) == [
        ("amount", "1000"),
        ("confirm", "true"),
        ("payment_method_types[0]", "card"),
        ("payment_method_types[1]", "oxxo"),
        ("metadata[a]", "1"),
        ("items[0][price]", "p_1"),
        ("items[0][quantity]", "2"),
    ]


def test_refuses_floats() -> None:
    with pytest.raises(TypeError):
        encode_form({"amount": 10.5})


def test_decodes_empty_brackets_and_indexes() -> None:
    pairs = [("expand[]", "a"), ("expand[]", "b"), ("x[y][0][z]", "1"), ("created[gte]", "5")]
    assert decode_form(pairs) == {
        "expand": ["a", "b"],
        "x": {"y": [{"z": "1"}]},
        "created": {"gte": "5"},
    }


def test_rejects_keys_that_mix_a_value_and_a_hash() -> None:
    with pytest.raises(FormDecodeError):
        decode_form([("a", "1"), ("a[b]", "2")])
    with pytest.raises(FormDecodeError):
        decode_form([("a]b[", "1")])


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
leaves = st.text(alphabet="abc123 -@.", max_size=8)
values = st.recursive(
    leaves,
    lambda children: (
        st.dictionaries(keys, children, min_size=1, max_size=3)
        | st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(keys, values, max_size=4))
def test_decode_inverts_encode(params: dict) -> None:
    assert decode_form(encode_form(params)) == params
