"""Throughput of the AML monitoring rules: 100,000 payments, every rule enabled.

Run: ``.venv/bin/python bench/aml.py [--payments 100000] [--customers 10000]``. Builds
synthetic payments (a third in cash, some prepayments, some third-party payers) and runs
``compliance.rules.evaluate_payment`` on each with the customer's earlier payments of the
last 30 days, as the monitoring service does, plus ``structuring_linked`` over pairs of
linked customers, on one core. Prints payments/s (target ≥ 2,000)
and the alerts raised per rule. The database round trips of the service are not included.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter, defaultdict, deque
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from puente.compliance.policy import DEFAULT_POLICY
from puente.compliance.rules import (
    CustomerFacts,
    FixRates,
    PaymentFact,
    evaluate_payment,
    structuring_linked,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(14)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fx = FixRates({date(2025, 12, 1) + timedelta(days=n): Decimal("17.5") for n in range(400)})
    customers = {
        cid: CustomerFacts(cid, f"Cliente {cid}", None, Decimal(rng.randint(8, 60) * 1000), start)
        for cid in range(args.customers)
    }
    history: dict[int, deque[PaymentFact]] = defaultdict(deque)
    window = timedelta(days=30)
    fired: Counter[str] = Counter()
    facts = []
    for n in range(args.payments):
        at = start + timedelta(seconds=n * 30)
        cid = rng.randrange(args.customers)
        cash = rng.random() < 0.33
        facts.append(
            PaymentFact(
                payment_id=n,
                customer_id=cid,
                loan_id=cid,
                amount=Decimal(rng.randint(500, 140_000)),
                cash=cash,
                paid_at=at,
                day=at.date(),
                payer_key=f"p{rng.randrange(3)}" if rng.random() < 0.05 else None,
                prepaid=Decimal(rng.randint(0, 50_000)) if rng.random() < 0.1 else Decimal(0),
            )
        )
    began = time.perf_counter()
    for fact in facts:
        past = history[fact.customer_id]
        while past and past[0].paid_at <= fact.paid_at - window:
            past.popleft()
        for draft in evaluate_payment(fact, past, customers[fact.customer_id], fx, DEFAULT_POLICY):
            fired[draft.rule] += 1
        # Customers 2k and 2k+1 are linked (same phone, say): STRUCTURING_LINKED over both.
        partner = history[fact.customer_id ^ 1]
        linked = structuring_linked(fact, [*past, *partner], fx, DEFAULT_POLICY)
        if linked is not None:
            fired[linked.rule] += 1
        past.append(fact)
    elapsed = time.perf_counter() - began
    print(f"payments            {len(facts):,}")
    print(f"seconds             {elapsed:.2f}")
    print(f"payments/s          {len(facts) / elapsed:,.0f}  (target ≥ 2,000 on one core)")
    for rule, count in sorted(fired.items()):
        print(f"  {rule:<32}{count:,}")


if __name__ == "__main__":
    main()
