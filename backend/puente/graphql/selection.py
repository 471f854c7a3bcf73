"""What the query asks below a field, so a resolver reads only what will be shown.

A connection counts its rows only when ``totalCount`` is asked and joins a payment's loan
only when ``loan`` is; a loan's balance and installments are computed only when one of
them is (``types.Loan``). Read from graphql-core's syntax tree (fragments included,
aliases and directives ignored): answering "maybe" costs a join, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)

__all__ = ["selects"]


def _fields(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def selects(info: Any, *path: str) -> bool:
    """Whether the query selects ``path`` (schema names, e.g. ``"edges", "node", "loan"``)
    below the field being resolved."""
    raw = getattr(info, "_raw_info", info)  # strawberry's Info or graphql-core's
    nodes: Iterable[FieldNode] = raw.field_nodes
    for name in path:
        nodes = [
            child
            for node in nodes
            for child in _fields(node.selection_set, raw.fragments)
            if child.name.value == name
        ]
        if not nodes:
            return False
    return True
