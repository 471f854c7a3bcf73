"""The ledger's read model: running balances kept with the postings, and their check.

``record_entry_totals`` runs inside ``post_entry``'s transaction, so a balance can never
be seen without the postings behind it (nor the reverse). Two tables:

- ``ledger_balances``: per account, rows whose sum is the account's balance. A per-loan
  account has a single row (shard 0) that each entry adds to in one upsert; only that
  loan's transactions touch it, and they already serialise on the loan. An
  institution-wide account (cash clearing, bank, VAT, income) is in every payment: a
  single row for it would make every payment of the institution wait for the one before
  to commit. Each entry appends its own row for those (shard = the entry's id), which no
  other writer touches; ``fold_institution_deltas`` (the daily job, or
  ``puente ledger fold-balances``) adds them into shard 0 and deletes them at once, so a
  reader sees either the rows or their sum, never both.
- ``loan_installment_totals``: a loan's tagged postings summed by (installment,
  component, entry kind), what ``loans.activity`` folds into each installment's state.

``check_balances`` recomputes both from the postings and lists every difference
(``puente ledger check-balances``; the test suite runs it after every ledger test).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from puente.enums import JournalKind
from puente.ledger.entries import Line
from puente.ledger.models import AccountBalance, InstallmentTotal, Posting

__all__ = [
    "BalanceDrift",
    "EntryTotals",
    "check_balances",
    "entry_totals",
    "fold_institution_deltas",
    "rebuild_balances",
    "record_entry_totals",
]

_BALANCES_UPSERT = (
    "INSERT INTO ledger_balances (account_id, shard, balance_centavos) VALUES {values} "
    "ON CONFLICT (account_id, shard) DO UPDATE SET "
    "balance_centavos = ledger_balances.balance_centavos + EXCLUDED.balance_centavos"
)
_TOTALS_UPSERT = (
    "INSERT INTO loan_installment_totals (loan_id, installment_number, component, kind, "
    "centavos) VALUES {values} "
    "ON CONFLICT (loan_id, installment_number, component, kind) DO UPDATE SET "
    "centavos = loan_installment_totals.centavos + EXCLUDED.centavos"
)


def _client(conn: BaseDBAsyncClient | None) -> BaseDBAsyncClient:
    """``conn``, or the default connection (the current transaction's, inside one)."""
    return conn if conn is not None else AccountBalance._meta.db


def _is_postgres(client: BaseDBAsyncClient) -> bool:
    return client.capabilities.dialect == "postgres"


def _values(rows: Sequence[tuple[Any, ...]], postgres: bool, start: int = 0) -> str:
    """``(?, ?), (?, ?)`` or ``($1, $2), ($3, $4)`` for ``rows``."""
    width = len(rows[0])
    if not postgres:
        one = "(" + ", ".join("?" * width) + ")"
        return ", ".join([one] * len(rows))
    return ", ".join(
        "(" + ", ".join(f"${start + n * width + i + 1}" for i in range(width)) + ")"
        for n in range(len(rows))
    )


@dataclass(frozen=True, slots=True)
class EntryTotals:
    """What one entry adds to the read model. ``balances``: (account id, own row, centavos),
    own row True for an institution-wide account (the entry's own shard, not shard 0);
    ``totals``: (loan id, installment, component, kind, centavos). Both sorted, so two
    entries on the same loan lock its rows in the same order."""

    balances: list[tuple[int, bool, int]]
    totals: list[tuple[int, int, str, str, int]]


def entry_totals(
    kind: JournalKind, lines: Sequence[Line], account_ids: Mapping[str, int]
) -> EntryTotals:
    """The read-model rows an entry's ``lines`` add (``account_ids``: id by account code)."""
    loan_deltas: dict[int, int] = defaultdict(int)
    institution_deltas: dict[int, int] = defaultdict(int)
    totals: dict[tuple[int, int, str], int] = defaultdict(int)
    for line in lines:
        account_id = account_ids[line.account.code]
        loan_id = line.account.loan_id
        if loan_id is None:
            institution_deltas[account_id] += line.centavos
            continue
        loan_deltas[account_id] += line.centavos
        if line.installment_number is not None:
            totals[(loan_id, line.installment_number, line.component or "")] += line.centavos
    return EntryTotals(
        sorted(
            [(a, False, c) for a, c in loan_deltas.items() if c]
            + [(a, True, c) for a, c in institution_deltas.items() if c]
        ),
        sorted(
            (loan_id, number, component, str(kind.value), c)
            for (loan_id, number, component), c in totals.items()
            if c
        ),
    )


async def record_entry_totals(
    entry_id: int,
    kind: JournalKind,
    lines: Sequence[Line],
    account_ids: Mapping[str, int],
    conn: BaseDBAsyncClient | None = None,
) -> None:
    """Add a just-posted entry to the read model (one statement on PostgreSQL, two on
    SQLite). ``account_ids`` maps each line's account code to its id."""
    added = entry_totals(kind, lines, account_ids)
    balance_rows = [(a, entry_id if own else 0, c) for a, own, c in added.balances]
    total_rows = added.totals
    client = _client(conn)
    postgres = _is_postgres(client)
    statements: list[tuple[str, list[Any]]] = []
    if balance_rows:
        sql = _BALANCES_UPSERT.format(values=_values(balance_rows, postgres))
        statements.append((sql, [v for row in balance_rows for v in row]))
    if total_rows:
        start = sum(len(params) for _, params in statements)
        sql = _TOTALS_UPSERT.format(values=_values(total_rows, postgres, start))
        statements.append((sql, [v for row in total_rows for v in row]))
    if postgres and len(statements) == 2:
        # A data-modifying WITH runs in the same statement: one round trip per entry.
        (first, first_params), (second, second_params) = statements
        statements = [(f"WITH balances AS ({first}) {second}", first_params + second_params)]
    for sql, params in statements:
        await client.execute_query(sql, params)


async def fold_institution_deltas(conn: BaseDBAsyncClient | None = None) -> int:
    """Add the rows entries appended for institution-wide accounts into each account's
    shard-0 row, deleting them in the same statement (transaction on SQLite); returns how
    many rows were folded. Safe beside running payments: writers never touch shard 0 of
    those accounts, and rows not committed yet are left for the next fold."""
    if conn is None:
        async with in_transaction() as tx:
            return await fold_institution_deltas(tx)
    if _is_postgres(conn):
        sql = (
            "WITH moved AS (DELETE FROM ledger_balances WHERE shard <> 0 "
            "RETURNING account_id, balance_centavos), "
            "counted AS (SELECT COUNT(*) AS n FROM moved), "
            "folded AS (INSERT INTO ledger_balances (account_id, shard, balance_centavos) "
            "SELECT account_id, 0, SUM(balance_centavos) FROM moved GROUP BY account_id "
            "ON CONFLICT (account_id, shard) DO UPDATE SET "
            "balance_centavos = ledger_balances.balance_centavos + EXCLUDED.balance_centavos) "
            "SELECT n FROM counted"
        )
        _, rows = await conn.execute_query(sql)
        return int(dict(rows[0])["n"]) if rows else 0
    _, moved = await conn.execute_query(
        "DELETE FROM ledger_balances WHERE shard <> 0 RETURNING account_id, balance_centavos"
    )
    sums: dict[int, int] = defaultdict(int)
    for row in moved:
        values = dict(row)
        sums[int(values["account_id"])] += int(values["balance_centavos"])
    folded = sorted((account_id, 0, total) for account_id, total in sums.items())
    if folded:
        sql = _BALANCES_UPSERT.format(values=_values(folded, False))
        await conn.execute_query(sql, [v for row in folded for v in row])
    return len(moved)


_REBUILD = (
    "DELETE FROM ledger_balances",
    "DELETE FROM loan_installment_totals",
    "INSERT INTO ledger_balances (account_id, shard, balance_centavos) "
    "SELECT account_id, 0, SUM(amount_centavos) FROM postings GROUP BY account_id",
    "INSERT INTO loan_installment_totals "
    "(loan_id, installment_number, component, kind, centavos) "
    "SELECT a.loan_id, p.installment_number, COALESCE(p.component, ''), e.kind, "
    "SUM(p.amount_centavos) FROM postings p "
    "JOIN ledger_accounts a ON a.id = p.account_id "
    "JOIN journal_entries e ON e.id = p.entry_id "
    "WHERE a.loan_id IS NOT NULL AND p.installment_number IS NOT NULL "
    "GROUP BY a.loan_id, p.installment_number, COALESCE(p.component, ''), e.kind",
)


async def rebuild_balances(conn: BaseDBAsyncClient) -> None:
    """Recompute the whole read model from the postings (for data written around
    ``post_entry``, such as a benchmark copying rows). Not for a live database: run it in a
    transaction while nothing posts."""
    for sql in _REBUILD:
        await conn.execute_query(sql)


@dataclass(frozen=True, slots=True)
class BalanceDrift:
    """A read-model figure that differs from the sum of its postings (centavos)."""

    table: str
    key: tuple[Any, ...]
    stored: int
    from_postings: int

    def __str__(self) -> str:
        key = ", ".join(str(part) for part in self.key)
        return (
            f"{self.table}[{key}]: stored {self.stored}, postings say {self.from_postings} "
            f"(off by {self.stored - self.from_postings})"
        )


def _differences(
    table: str, stored: Mapping[tuple[Any, ...], int], expected: Mapping[tuple[Any, ...], int]
) -> list[BalanceDrift]:
    keys = sorted(set(stored) | set(expected), key=repr)
    return [
        BalanceDrift(table, key, stored.get(key, 0), expected.get(key, 0))
        for key in keys
        if stored.get(key, 0) != expected.get(key, 0)
    ]


async def check_balances(conn: BaseDBAsyncClient | None = None) -> list[BalanceDrift]:
    """Every difference between the read model and the postings (empty when consistent).

    Reads one snapshot on PostgreSQL (repeatable read), so it can run beside live payments.
    """
    if conn is None:
        async with in_transaction() as tx:
            if _is_postgres(tx):
                await tx.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return await check_balances(tx)
    expected: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in (
        await Posting.all()
        .using_db(conn)
        .annotate(total=Sum("amount_centavos"))
        .group_by("account_id")
        .values("account_id", "total")
    ):
        expected[(row["account_id"],)] += int(row["total"] or 0)
    stored: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in (
        await AccountBalance.all()
        .using_db(conn)
        .annotate(total=Sum("balance_centavos"))
        .group_by("account_id")
        .values("account_id", "total")
    ):
        stored[(row["account_id"],)] += int(row["total"] or 0)
    drift = _differences("ledger_balances", stored, expected)

    keys = ["account__loan_id", "installment_number", "component", "entry__kind"]
    expected_totals: dict[tuple[Any, ...], int] = defaultdict(int)
    for row in (
        await Posting.filter(account__loan_id__isnull=False, installment_number__isnull=False)
        .using_db(conn)
        .annotate(total=Sum("amount_centavos"))
        .group_by(*keys)
        .values(*keys, "total")
    ):
        key = (
            row["account__loan_id"],
            row["installment_number"],
            row["component"] or "",
            str(JournalKind(row["entry__kind"]).value),
        )
        expected_totals[key] += int(row["total"] or 0)
    stored_totals: dict[tuple[Any, ...], int] = {}
    for row in (
        await InstallmentTotal.all()
        .using_db(conn)
        .values("loan_id", "installment_number", "component", "kind", "centavos")
    ):
        key = (
            row["loan_id"],
            row["installment_number"],
            row["component"],
            str(JournalKind(row["kind"]).value),
        )
        stored_totals[key] = int(row["centavos"])
    return drift + _differences("loan_installment_totals", stored_totals, expected_totals)
