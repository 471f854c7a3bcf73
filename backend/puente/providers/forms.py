"""Bracket form encoding (``a[b][0]=c``), the body format of Stripe-style v1 APIs.

``encode_form`` turns nested values into ordered pairs the way Stripe's SDK does (lists
indexed ``[0]``, booleans ``true``/``false``, ``None`` left out); ``decode_form`` is its
inverse for simulators and also accepts ``a[]=x`` list items.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FormDecodeError", "decode_form", "encode_form"]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormDecodeError(ValueError):
    """A bracket key that cannot be turned into a nested value."""


def encode_form(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings and lists as ``[(key, value), ...]`` with bracket keys."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        pairs.extend(_encode_value(name, value))
    return pairs


def _encode_value(name: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, Mapping):
        return encode_form(value, name)
    if isinstance(value, list | tuple):
        pairs: list[tuple[str, str]] = []
        for index, item in enumerate(value):
            pairs.extend(_encode_value(f"{name}[{index}]", item))
        return pairs
    if isinstance(value, float):
        raise TypeError(f"refusing to form-encode a float for {name!r}")
    return [(name, str(value))]


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Bracket pairs back into nested dicts and lists; ``a[]`` and ``a[0]`` both make lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if not match:
            raise FormDecodeError(f"Invalid parameter name: {raw_key}")
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node: dict[str, Any] = root
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(part), dict):
                    raise FormDecodeError(f"Invalid parameter: {raw_key} mixes value and hash")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormDecodeError(f"Invalid parameter: {raw_key} mixes value and hash")
                node = child
    # The top level is always a mapping of parameter names, even if they look numeric.
    return {key: _listify(value) for key, value in root.items()}


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
