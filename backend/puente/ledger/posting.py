"""Writing to and reading from the ledger. Callers run inside their own transaction.

Balances are read from the read model (``ledger/balances.py``) that ``post_entry`` keeps in
the same transaction as the postings, never by summing an account's history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from puente.enums import JournalKind, LedgerAccountType
from puente.ledger.balances import entry_totals, record_entry_totals
from puente.ledger.entries import (
    CREDIT_NORMAL,
    AccountRef,
    LedgerError,
    Line,
    check_balanced,
    reversal_lines,
)
from puente.ledger.models import AccountBalance, JournalEntry, LedgerAccount, Posting
from puente.observability.metrics import LEDGER_POSTINGS

__all__ = [
    "AlreadyPosted",
    "account_balance",
    "account_ids",
    "entry_lines",
    "get_account",
    "loan_account_balances",
    "post_entry",
    "prime_loan_accounts",
    "reverse_entry",
]


class AlreadyPosted(LedgerError):
    """An entry with this idempotency key exists; carries it so callers can reuse it."""

    def __init__(self, entry: JournalEntry) -> None:
        super().__init__(f"journal entry {entry.idempotency_key!r} was already posted")
        self.entry = entry


_POSTINGS_PER_INSERT = 4000  # 5 parameters each: under both databases' limits

# Ledger account ids by code, per database client (PostgreSQL only). Accounts are never
# deleted or renamed, so an id once seen committed is right for the life of the process and
# a posting line costs no lookup. An id is cached only when read inside a transaction that
# did not create the account itself: visible there means committed (READ COMMITTED), and a
# transaction that rolls back never leaves an id behind. SQLite is left out: its one shared
# connection lets a plain query see another task's uncommitted rows.
_ACCOUNT_IDS: WeakKeyDictionary[BaseDBAsyncClient, dict[str, int]] = WeakKeyDictionary()
_CREATED_IN: WeakKeyDictionary[BaseDBAsyncClient, set[str]] = WeakKeyDictionary()
# Ids this very client (a transaction, or a savepoint inside one: never its parent, whose
# savepoint may roll back) created or read, committed or not: right for as long as it lives.
_KNOWN_IN: WeakKeyDictionary[BaseDBAsyncClient, dict[str, int]] = WeakKeyDictionary()


def _lineage(conn: BaseDBAsyncClient) -> tuple[BaseDBAsyncClient, BaseDBAsyncClient | None]:
    """(the database client, the outermost transaction ``conn`` belongs to or None)."""
    chain = [conn]
    while (parent := getattr(chain[-1], "_parent", None)) is not None:
        chain.append(parent)
    return chain[-1], (chain[-2] if len(chain) > 1 else None)


async def account_ids(
    refs: Iterable[AccountRef], conn: BaseDBAsyncClient | None = None
) -> dict[str, int]:
    """Ids of the accounts named by ``refs`` by code, created on first use: no statement
    when all are cached, else one (PostgreSQL: insert what is missing and read the rest;
    SQLite: one read, and an insert and a read for new accounts)."""
    wanted = {ref.code: ref for ref in refs}
    db = conn or LedgerAccount._meta.db
    client, transaction = _lineage(db)
    cacheable = transaction is not None and db.capabilities.dialect == "postgres"
    cache = _ACCOUNT_IDS.setdefault(client, {}) if cacheable else {}
    found = {code: cache[code] for code in wanted if code in cache}
    known = _KNOWN_IN.get(db) if cacheable else None
    if known:
        found.update((code, known[code]) for code in wanted if code in known)
    missing = [code for code in wanted if code not in found]
    if not missing:
        return found
    created = _CREATED_IN.get(transaction) if transaction is not None else None
    if db.capabilities.dialect == "postgres":
        # One statement: insert what is not there yet, read what is.
        ids, new_codes = await _read_or_create([wanted[code] for code in missing], db)
        found.update(ids)
        if transaction is not None:
            _KNOWN_IN.setdefault(db, {}).update(ids)
        if transaction is not None and new_codes:
            created = _CREATED_IN.setdefault(transaction, set())
            created.update(new_codes)
        if cacheable:
            cache.update((c, ids[c]) for c in missing if c in ids and c not in (created or ()))
        late = [code for code in missing if code not in found]
        if late:  # created by a writer that committed after this statement began
            found.update(await _read_ids(late, db))
        return found
    found.update(await _read_ids(missing, db))
    new = [wanted[code] for code in wanted if code not in found]
    if new:
        # Another writer may create one between our read and insert (the first payments of
        # an institution, charged concurrently): ON CONFLICT DO NOTHING keeps the caller's
        # transaction usable on PostgreSQL, where a failed INSERT would abort it.
        await LedgerAccount.bulk_create(
            [
                LedgerAccount(
                    institution_id=ref.institution_id,
                    loan_id=ref.loan_id,
                    type=ref.type,
                    provider=ref.provider,
                    code=ref.code,
                )
                for ref in new
            ],
            ignore_conflicts=True,
            using_db=db,
        )
        found.update(await _read_ids([ref.code for ref in new], db))
    return found


async def prime_loan_accounts(loan_ids: Sequence[int], conn: BaseDBAsyncClient) -> None:
    """Read the ids of ``loan_ids``' accounts in one query, so posting to them costs no
    lookup: for a caller about to post to many loans in transaction ``conn`` (PostgreSQL;
    elsewhere nothing is cached, and nothing is read)."""
    client, transaction = _lineage(conn)
    if transaction is None or conn.capabilities.dialect != "postgres" or not loan_ids:
        return
    _, rows = await conn.execute_query(
        "SELECT code, id FROM ledger_accounts WHERE loan_id = ANY($1::integer[])",
        [list(loan_ids)],
    )
    ids = {str(row["code"]): int(row["id"]) for row in rows}
    _KNOWN_IN.setdefault(conn, {}).update(ids)
    created = _CREATED_IN.get(transaction) or set()
    _ACCOUNT_IDS.setdefault(client, {}).update(
        (code, account_id) for code, account_id in ids.items() if code not in created
    )


async def _read_or_create(
    refs: list[AccountRef], db: BaseDBAsyncClient
) -> tuple[dict[str, int], set[str]]:
    """PostgreSQL: the ids of ``refs``' accounts by code, creating those missing, in one
    statement; and the codes this statement created. ON CONFLICT DO NOTHING: an account
    another writer created is read instead (or waited for, while it is uncommitted)."""
    values: list[str] = []
    params: list[object] = []
    now = datetime.now(UTC)
    for ref in refs:
        n = len(params)
        values.append(
            f"(${n + 1}::varchar, ${n + 2}::varchar, ${n + 3}::varchar, ${n + 4}::integer, "
            f"${n + 5}::integer, ${n + 6}::timestamptz)"
        )
        params += [ref.type.value, ref.provider, ref.code, ref.institution_id, ref.loan_id, now]
    params.append([ref.code for ref in refs])
    sql = (
        "WITH new AS (INSERT INTO ledger_accounts "
        "(type, provider, code, institution_id, loan_id, created_at) "
        f"VALUES {', '.join(values)} ON CONFLICT (code) DO NOTHING RETURNING code, id) "
        "SELECT code, id, TRUE AS created FROM new UNION ALL "
        f"SELECT code, id, FALSE FROM ledger_accounts WHERE code = ANY(${len(params)}::varchar[])"
    )
    _, rows = await db.execute_query(sql, params)
    ids: dict[str, int] = {}
    created: set[str] = set()
    for row in rows:
        ids[str(row["code"])] = int(row["id"])
        if row["created"]:
            created.add(str(row["code"]))
    return ids, created


async def _read_ids(codes: list[str], conn: BaseDBAsyncClient) -> dict[str, int]:
    rows = await LedgerAccount.filter(code__in=codes).using_db(conn).values_list("code", "id")
    return {str(code): int(account_id) for code, account_id in rows}


async def get_account(ref: AccountRef, conn: BaseDBAsyncClient | None = None) -> LedgerAccount:
    """The account named by ``ref``, created on first use (as ``account_ids`` creates it)."""
    existing = await LedgerAccount.filter(code=ref.code).using_db(conn).first()
    if existing is not None:
        return existing
    ids = await account_ids([ref], conn)
    return await LedgerAccount.get(id=ids[ref.code]).using_db(conn)


async def post_entry(
    lines: Sequence[Line],
    *,
    kind: JournalKind,
    effective_date: date,
    memo: str = "",
    loan_id: int | None = None,
    payment_id: int | None = None,
    idempotency_key: str | None = None,
    reverses_id: int | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> JournalEntry:
    """Record a balanced entry, or refuse it whole (``UnbalancedEntry``, ``AlreadyPosted``).

    On PostgreSQL the entry, its postings and its read-model rows are one statement, its
    idempotency key checked by that INSERT (ON CONFLICT DO NOTHING); the existing entry is
    read only when the key was taken."""
    check_balanced(lines)
    db = conn or JournalEntry._meta.db
    institution_id = lines[0].account.institution_id
    fields: dict[str, Any] = {
        "kind": kind,
        "memo": memo[:300],
        "effective_date": effective_date,
        "idempotency_key": idempotency_key,
        "created_at": datetime.now(UTC),
        "institution_id": institution_id,
        "loan_id": loan_id,
        "payment_id": payment_id,
        "reverses_id": reverses_id,
    }
    if db.capabilities.dialect == "postgres" and len(lines) <= _LINES_PER_STATEMENT:
        ids = await account_ids((line.account for line in lines), db)
        sql, params = _entry_statement(fields, lines, ids)
        _, rows = await db.execute_query(sql, params)
        if not rows:  # the key was taken: nothing of this entry was written
            existing = await JournalEntry.filter(idempotency_key=idempotency_key).using_db(db).get()
            raise AlreadyPosted(existing)
        entry = JournalEntry(**fields)
        entry.id = int(rows[0]["id"])
        entry._saved_in_db = True
        LEDGER_POSTINGS.labels(str(kind)).inc(len(lines))
        return entry
    if idempotency_key is not None:
        existing = await JournalEntry.filter(idempotency_key=idempotency_key).using_db(conn).first()
        if existing is not None:
            raise AlreadyPosted(existing)
    del fields["created_at"]  # set by the model
    entry = await JournalEntry.create(**fields, using_db=conn)
    ids = await account_ids((line.account for line in lines), conn)
    await _insert_postings(entry.id, [(ids[line.account.code], line) for line in lines], conn)
    await record_entry_totals(entry.id, kind, lines, ids, conn)
    LEDGER_POSTINGS.labels(str(kind)).inc(len(lines))
    return entry


_LINES_PER_STATEMENT = 1000  # larger entries: the rows path (parameter limits)


def _entry_statement(
    fields: dict[str, Any], lines: Sequence[Line], ids: dict[str, int]
) -> tuple[str, list[object]]:
    """PostgreSQL: one statement inserting the entry (none if its key is taken), its
    postings in line order and its read-model rows (``balances.entry_totals``); it returns
    the entry's id, or no row when the key was taken."""
    kind: JournalKind = fields["kind"]
    params: list[object] = [
        kind.value,
        fields["memo"],
        fields["effective_date"],
        fields["idempotency_key"],
        fields["created_at"],
        fields["institution_id"],
        fields["loan_id"],
        fields["payment_id"],
        fields["reverses_id"],
    ]
    parts = [
        "WITH e AS (INSERT INTO journal_entries (kind, memo, effective_date, idempotency_key, "
        "created_at, institution_id, loan_id, payment_id, reverses_id) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id)"
    ]

    def mark(value: object, cast: str) -> str:
        params.append(value)
        return f"${len(params)}::{cast}"

    postings = ", ".join(
        f"({n}, {mark(ids[line.account.code], 'integer')}, {mark(line.centavos, 'bigint')}, "
        f"{mark(line.installment_number, 'integer')}, {mark(line.component, 'varchar')})"
        for n, line in enumerate(lines)
    )
    parts.append(
        "p AS (INSERT INTO postings (entry_id, account_id, amount_centavos, "
        "installment_number, component) SELECT e.id, v.a, v.c, v.n, v.k FROM e CROSS JOIN "
        f"(VALUES {postings}) AS v(o, a, c, n, k) ORDER BY v.o)"
    )
    added = entry_totals(kind, lines, ids)
    if added.balances:
        balances = ", ".join(
            f"({mark(a, 'integer')}, {'TRUE' if own else 'FALSE'}, {mark(c, 'bigint')})"
            for a, own, c in added.balances
        )
        parts.append(
            "b AS (INSERT INTO ledger_balances (account_id, shard, balance_centavos) "
            "SELECT v.a, CASE WHEN v.own THEN e.id ELSE 0 END, v.c FROM e CROSS JOIN "
            f"(VALUES {balances}) AS v(a, own, c) ORDER BY v.a "
            "ON CONFLICT (account_id, shard) DO UPDATE SET "
            "balance_centavos = ledger_balances.balance_centavos + EXCLUDED.balance_centavos)"
        )
    if added.totals:
        totals = ", ".join(
            f"({mark(loan, 'integer')}, {mark(number, 'integer')}, {mark(component, 'varchar')}, "
            f"{mark(k, 'varchar')}, {mark(c, 'bigint')})"
            for loan, number, component, k, c in added.totals
        )
        parts.append(
            "t AS (INSERT INTO loan_installment_totals (loan_id, installment_number, "
            "component, kind, centavos) SELECT v.l, v.n, v.k, v.j, v.c FROM e CROSS JOIN "
            f"(VALUES {totals}) AS v(l, n, k, j, c) ORDER BY v.l, v.n, v.k, v.j "
            "ON CONFLICT (loan_id, installment_number, component, kind) DO UPDATE SET "
            "centavos = loan_installment_totals.centavos + EXCLUDED.centavos)"
        )
    return ", ".join(parts) + " SELECT id FROM e", params


async def _insert_postings(
    entry_id: int, lines: Sequence[tuple[int, Line]], conn: BaseDBAsyncClient | None
) -> None:
    """The postings of one entry in one multi-row INSERT (not one execution per row)."""
    db = conn or Posting._meta.db
    postgres = db.capabilities.dialect == "postgres"
    for start in range(0, len(lines), _POSTINGS_PER_INSERT):
        values: list[object] = []
        rows = []
        for account_id, line in lines[start : start + _POSTINGS_PER_INSERT]:
            at = len(values)
            rows.append(
                "(" + ", ".join(f"${at + n}" if postgres else "?" for n in range(1, 6)) + ")"
            )
            values += [entry_id, account_id, line.centavos, line.installment_number, line.component]
        await db.execute_query(
            "INSERT INTO postings (entry_id, account_id, amount_centavos, installment_number, "
            f"component) VALUES {', '.join(rows)}",
            values,
        )


async def entry_lines(entry: JournalEntry, conn: BaseDBAsyncClient | None = None) -> list[Line]:
    """The lines of a posted entry, in the order they were written."""
    postings = (
        await Posting.filter(entry_id=entry.id)
        .using_db(conn)
        .order_by("id")
        .prefetch_related("account")
    )
    return [
        Line(
            AccountRef(
                institution_id=p.account.institution_id,
                type=LedgerAccountType(p.account.type),
                loan_id=p.account.loan_id,
                provider=p.account.provider or None,
            ),
            p.amount_centavos,
            p.installment_number,
            p.component,
        )
        for p in postings
    ]


async def reverse_entry(
    entry: JournalEntry,
    *,
    kind: JournalKind,
    effective_date: date,
    memo: str = "",
    conn: BaseDBAsyncClient | None = None,
) -> JournalEntry:
    """Post the exact opposite of ``entry``; an entry can be reversed once."""
    lines = reversal_lines(await entry_lines(entry, conn))
    return await post_entry(
        lines,
        kind=kind,
        effective_date=effective_date,
        memo=memo or f"reversal of entry {entry.id}",
        loan_id=entry.loan_id,
        payment_id=entry.payment_id,
        idempotency_key=f"reversal:{entry.id}",
        reverses_id=entry.id,
        conn=conn,
    )


async def account_balance(ref: AccountRef, conn: BaseDBAsyncClient | None = None) -> int:
    """Centavos on the account, in its natural sign (credit-normal accounts shown positive)."""
    rows = (
        await AccountBalance.filter(account__code=ref.code)
        .using_db(conn)
        .annotate(total=Sum("balance_centavos"))
        .group_by("account_id")
        .values("total")
    )
    total = sum(int(row["total"] or 0) for row in rows)
    return -total if ref.type in CREDIT_NORMAL else total


async def loan_account_balances(
    loan_ids: Sequence[int], conn: BaseDBAsyncClient | None = None
) -> dict[int, dict[LedgerAccountType, int]]:
    """Per loan, the balance of each of its accounts, in natural sign; one query for many loans."""
    result: dict[int, dict[LedgerAccountType, int]] = {loan_id: {} for loan_id in loan_ids}
    if not loan_ids:
        return result
    rows = (
        await AccountBalance.filter(account__loan_id__in=list(loan_ids))
        .using_db(conn)
        .annotate(total=Sum("balance_centavos"))
        .group_by("account__loan_id", "account__type")
        .values("account__loan_id", "account__type", "total")
    )
    for row in rows:
        account_type = LedgerAccountType(row["account__type"])
        total = int(row["total"] or 0)
        result[row["account__loan_id"]][account_type] = (
            -total if account_type in CREDIT_NORMAL else total
        )
    return result
