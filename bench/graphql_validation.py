"""GraphQL per-request overhead: the validation part (issue 15 #1, first bullet).

Runs the borrower dashboard document through the schema in process, with an anonymous
context (``viewer`` resolves to null without touching a database), so what is left is
parsing, validation and a trivial execution. Printed side by side, in one run:

* this code: the depth and alias rules built once, so ``ValidationCache`` hits;
* baseline: the limiters registered as per-request factories that build new rule classes
  (as before), so validation runs on every request.

    .venv/bin/python bench/graphql_validation.py [--requests 3000]

The dashboard at 1, 10 and 50 loans against a raw Starlette endpoint (the rest of issue 15
#1) is ``bench/graphql.py``; that file hands this script's ``import graphql`` (``bench/`` is
first on ``sys.path``) over to graphql-core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import strawberry.schema.schema as strawberry_schema
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from puente.graphql.errors import should_mask_error
from puente.graphql.hardening import PuenteSchema
from puente.graphql.payment_types import Payment
from puente.graphql.payments import Subscription
from puente.graphql.scalars import SCALAR_OVERRIDES
from puente.graphql.schema import Mutation, Query, build_schema
from puente.graphql.types import Loan, User

DASHBOARD = """query Dashboard {
  viewer {
    user { id email fullName }
    loans(first: 10) { totalCount edges { cursor node { id status
      principal { amount currency } cat
      balance { total { amount currency } principal { amount } interest { amount } vat { amount }
        lateInterest { amount } fees { amount } overdue { amount } daysPastDue }
      nextInstallment { number dueDate total { amount } paid { amount } status } } }
      pageInfo { hasNextPage endCursor } }
    payments(first: 5) { edges { node { id status amount { amount } method provider } } }
  }
}"""


class Anonymous:
    """A context with nobody logged in: ``viewer`` is null, no database is read."""

    async def user(self) -> None:
        return None


def baseline_schema() -> PuenteSchema:
    """The schema as ``build_schema`` made it before: limiters as per-request factories."""
    return PuenteSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Loan, Payment, User],
        extensions=[
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: QueryDepthLimiter(max_depth=10),
            lambda: MaxAliasesLimiter(max_alias_count=15),
            lambda: MaxTokensLimiter(max_token_count=2000),
            lambda: MaskErrors(should_mask_error=should_mask_error),
        ],
        scalar_overrides=SCALAR_OVERRIDES,
    )


async def _run(schema: Any, requests: int) -> tuple[float, int]:
    """Requests per second and how many times validation really ran."""
    validations = 0
    real = strawberry_schema.validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal validations
        validations += 1
        return real(*args, **kwargs)

    strawberry_schema.validate = counting  # type: ignore[assignment]
    try:
        context = Anonymous()
        result = await schema.execute(DASHBOARD, context_value=context)
        assert result.errors is None, result.errors
        started = time.perf_counter()
        for _ in range(requests):
            await schema.execute(DASHBOARD, context_value=context)
        elapsed = time.perf_counter() - started
    finally:
        strawberry_schema.validate = real  # type: ignore[assignment]
    return requests / elapsed, validations


async def _main(requests: int) -> None:
    print(
        f"{requests} dashboard documents, anonymous; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores"
    )
    ours, ours_validations = await _run(build_schema(introspection=False), requests)
    base, base_validations = await _run(baseline_schema(), requests)
    print(f"  this code: {ours:8.0f} requests/s, validation ran {ours_validations} times")
    print(f"  baseline:  {base:8.0f} requests/s, validation ran {base_validations} times")
    print(f"  ratio: {ours / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    asyncio.run(_main(parser.parse_args().requests))


if __name__ == "__main__":
    main()
