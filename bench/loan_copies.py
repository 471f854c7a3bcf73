"""Bench helper: many loans from one built through the services, by copying its rows.

A bench needs thousands of real loans (installments, ledger accounts, the disbursement's
entries); building each through the services would take longer than the measurement. One
template loan is built the ordinary way and its rows are copied with new ids, every column
that points at another copied row remapped and every unique column made unique again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CopiedTable", "copy_rows"]

COPY_BATCH = 500
MAX_PARAMETERS = 30_000  # both databases cap the parameters of one statement

# (table, WHERE choosing the template's rows, {column: table its value points at})
CopiedTable = tuple[str, str, dict[str, str]]
# (table, column, template value, copy number, id of the copy's loan) -> the copy's value
Uniquify = Callable[[str, str, Any, int, int], Any]


async def _rows(conn: Any, table: str, where: str) -> list[dict[str, Any]]:
    _, rows = await conn.execute_query(f"SELECT * FROM {table} WHERE {where} ORDER BY id")
    return [dict(row) for row in rows]


async def _max_id(conn: Any, table: str) -> int:
    _, rows = await conn.execute_query(f"SELECT COALESCE(MAX(id), 0) AS m FROM {table}")
    return int(dict(rows[0])["m"])


async def copy_rows(
    conn: Any,
    tables: Sequence[CopiedTable],
    copies: int,
    uniquify: Uniquify,
    *,
    postgres: bool,
) -> None:
    """Copy the template's rows ``copies`` times with new ids (batched INSERTs).

    ``tables`` must list ``loans``; a column pointing at a row that is not copied (the
    institution's own ledger accounts) keeps its value.
    """
    template = {table: await _rows(conn, table, where) for table, where, _ in tables}
    base = {table: await _max_id(conn, table) for table, _, _ in tables}
    position = {t: {row["id"]: n for n, row in enumerate(rows)} for t, rows in template.items()}
    loan_id = template["loans"][0]["id"]

    def new_id(table: str, old: int, k: int) -> int:
        return base[table] + (k - 1) * len(template[table]) + position[table][old] + 1

    for start in range(1, copies + 1, COPY_BATCH):
        for table, _, refs in tables:
            rows = template[table]
            if not rows:
                continue
            columns = list(rows[0])
            values: list[Any] = []
            for k in range(start, min(start + COPY_BATCH, copies + 1)):
                new_loan = new_id("loans", loan_id, k)
                for row in rows:
                    for column in columns:
                        value = row[column]
                        target = "id" if column == "id" else refs.get(column)
                        if column == "id":
                            value = new_id(table, value, k)
                        elif target and value in position[target]:
                            value = new_id(target, value, k)
                        values.append(uniquify(table, column, value, k, new_loan))
            width = len(columns)
            per_statement = MAX_PARAMETERS // width * width
            for at in range(0, len(values), per_statement):
                chunk = values[at : at + per_statement]
                marks = ", ".join(
                    "("
                    + ", ".join(f"${n * width + i + 1}" if postgres else "?" for i in range(width))
                    + ")"
                    for n in range(len(chunk) // width)
                )
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {marks}"
                await conn.execute_query(sql, chunk)
    if postgres:
        for table, _, _ in tables:
            await conn.execute_query(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
