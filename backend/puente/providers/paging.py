"""Walking a provider's paginated listing to the end, the same way for every connector.

Providers page differently (Stripe's ``starting_after``, Conekta's ``next``, the bank's
``next_cursor``, Openpay's and Mercado Pago's offsets, PayPal's page numbers), but the walk is
always: ask for a page, keep its items, go on from where it says, stop when it says there is
no more. A connector supplies only ``fetch_page(cursor) -> (items, next cursor or None)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

__all__ = ["MAX_PAGES", "collect_pages"]

# A runaway paginator (a provider bug answering "more" forever) must not loop forever.
MAX_PAGES = 1000

Cursor = TypeVar("Cursor")
Item = TypeVar("Item")


async def collect_pages(
    fetch_page: Callable[[Cursor], Awaitable[tuple[Iterable[Item], Cursor | None]]],
    first: Cursor,
    *,
    max_pages: int = MAX_PAGES,
) -> list[Item]:
    """Every item of a listing, in the order the pages give them.

    ``fetch_page`` is called with ``first``, then with each cursor it returns, until it
    returns ``None`` as the next cursor or ``max_pages`` pages have been read.
    """
    items: list[Item] = []
    cursor = first
    for _ in range(max_pages):
        page, following = await fetch_page(cursor)
        items.extend(page)
        if following is None:
            break
        cursor = following
    return items
