"""The matching engine (pure): statement lines against what the book expects to see.

No database, no clock. The service hands in ``LineFacts`` and ``Expected`` values and books
what comes back. Order of strategies, strongest evidence first:

1. **Exact keys** - clave de rastreo, provider reference (a payout id in the concept),
   referencia numérica, then the per-loan CLABE the money was sent to. A key with the
   wrong amount is not a match: it is an ``AMOUNT_MISMATCH`` exception (unless several
   lines with that key add up to it: **N:1**, several transfers settle one amount).
2. **1:N** - one line equals the sum of a group (a gateway payout carries many payments,
   net of fees; the group's expected amount is already net).
3. **Fuzzy 1:1** - same direction, amount within tolerance, date within the window,
   concept similarity (``rapidfuzz``) raising the confidence.

4. **N:1 remittance** (``split_remittance``) - a payroll deposit is split across the loans
   its employer's remittance file names (descuento vía nómina).

A proposal at or above ``Tolerances.book_threshold`` is booked; below it (but at least
``suggest_threshold``) it is a suggestion for staff; anything else is unmatched.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz

from puente.reconciliation.enums import Direction, ExceptionReason, MatchKind, Strategy

__all__ = [
    "Expected",
    "LineFacts",
    "MatchResult",
    "Proposal",
    "RemittanceShare",
    "RemittanceSplit",
    "Tolerances",
    "Unmatched",
    "match_lines",
    "split_remittance",
]


# A provider id written in a concept ("PAGO STRIPE po_1Q2w3E"): looked up token by token.
_TOKEN = re.compile(r"[A-Z0-9_\-]{6,}")


@dataclass(frozen=True, slots=True)
class LineFacts:
    """What the matcher needs of a statement line."""

    id: int
    direction: Direction
    amount_centavos: int
    on: date | None  # value date, else booking date
    clave_rastreo: str = ""
    reference: str = ""
    beneficiary_account: str = ""
    concept: str = ""  # concept, payer name and bank reference, as one text


@dataclass(frozen=True, slots=True)
class Expected:
    """Something the book expects at the bank: a payment, a payout, a loan's CLABE."""

    key: str  # unique, e.g. "payment:12", "settlement:stripe:po_1", "loan:7"
    kind: MatchKind
    direction: Direction
    amount_centavos: int | None  # None: any amount (money for a loan's CLABE)
    on: date | None = None
    clave_rastreo: str = ""
    reference: str = ""
    provider_reference: str = ""
    clabe: str = ""
    label: str = ""  # words a payer's concept may carry (borrower's name, loan number)
    group: str = ""  # items the bank pays as one amount (a payout id)

    @property
    def reusable(self) -> bool:
        """A loan's CLABE takes any number of deposits; everything else is met once."""
        return self.amount_centavos is None


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How loose fuzzy matching may be (configurable per institution or per run)."""

    date_window_days: int = 3
    amount_tolerance_centavos: int = 0
    book_threshold: int = 90
    suggest_threshold: int = 50


@dataclass(frozen=True, slots=True)
class Proposal:
    """Lines explained by expected items, with how sure the matcher is (0..100)."""

    line_ids: tuple[int, ...]
    expected_keys: tuple[str, ...]
    strategy: Strategy
    key: str  # the evidence: clave_rastreo, provider_reference, referencia, clabe, amount
    confidence: int
    booked: bool


@dataclass(frozen=True, slots=True)
class Unmatched:
    line_id: int
    reason: ExceptionReason
    detail: str = ""


@dataclass
class MatchResult:
    proposals: list[Proposal] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


@dataclass
class _State:
    expected: dict[str, Expected]
    used: set[str] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    result: MatchResult = field(default_factory=MatchResult)

    def free(self, item: Expected) -> bool:
        return item.reusable or item.key not in self.used

    def propose(
        self,
        lines: Sequence[LineFacts],
        items: Sequence[Expected],
        strategy: Strategy,
        key: str,
        confidence: int,
        tolerances: Tolerances,
    ) -> None:
        confidence = max(0, min(100, confidence))
        if confidence < tolerances.suggest_threshold:
            return
        self.result.proposals.append(
            Proposal(
                tuple(line.id for line in lines),
                tuple(item.key for item in items),
                strategy,
                key,
                confidence,
                confidence >= tolerances.book_threshold,
            )
        )
        self.done.update(line.id for line in lines)
        self.used.update(item.key for item in items if not item.reusable)


def _close(a: int, b: int | None, tolerances: Tolerances) -> bool:
    return b is None or abs(a - b) <= tolerances.amount_tolerance_centavos


def _within(a: date | None, b: date | None, tolerances: Tolerances) -> bool:
    return a is None or b is None or abs((a - b).days) <= tolerances.date_window_days


def _index(expected: Iterable[Expected]) -> dict[str, dict[str, list[Expected]]]:
    index: dict[str, dict[str, list[Expected]]] = defaultdict(lambda: defaultdict(list))
    for item in expected:
        for name in ("clave_rastreo", "reference", "clabe", "provider_reference"):
            value = getattr(item, name)
            if value:
                index[name][value.upper()].append(item)
    return index


def _keyed(
    line: LineFacts, index: dict[str, dict[str, list[Expected]]]
) -> tuple[str, list[Expected]]:
    """The first key of the line that names expected items of its direction."""
    concept = line.concept.upper()
    candidates = [
        ("clave_rastreo", index["clave_rastreo"].get(line.clave_rastreo.upper(), [])),
        (
            "provider_reference",
            [
                item
                for token in dict.fromkeys(_TOKEN.findall(concept))
                for item in index["provider_reference"].get(token, [])
            ],
        ),
        ("reference", index["reference"].get(line.reference.upper(), []) if line.reference else []),
        ("clabe", index["clabe"].get(line.beneficiary_account.upper(), [])),
    ]
    for name, items in candidates:
        items = [i for i in items if i.direction is line.direction]
        if items:
            return name, items
    return "", []


def _exact(lines: Sequence[LineFacts], state: _State, tolerances: Tolerances) -> None:
    index = _index(state.expected.values())
    by_key: dict[tuple[str, str], list[LineFacts]] = defaultdict(list)
    for line in lines:
        name, items = _keyed(line, index)
        if not items:
            continue
        free = [i for i in items if state.free(i)]
        fitting = [i for i in free if _close(line.amount_centavos, i.amount_centavos, tolerances)]
        if fitting:
            best = fitting[0]
            # A CLABE names the loan, not the payment: strong, but not a key of this transfer.
            confidence = 95 if best.reusable else 100
            state.propose([line], [best], Strategy.EXACT_KEY, name, confidence, tolerances)
        elif free:
            by_key[(name, free[0].key)].append(line)
    # Lines whose key named an item of another amount: together they may settle it (N:1).
    for (name, item_key), keyed_lines in by_key.items():
        item = state.expected[item_key]
        total = sum(line.amount_centavos for line in keyed_lines)
        if (
            len(keyed_lines) > 1
            and state.free(item)
            and _close(total, item.amount_centavos, tolerances)
        ):
            state.propose(keyed_lines, [item], Strategy.MANY_TO_ONE, name, 95, tolerances)
            continue
        for line in keyed_lines:
            state.done.add(line.id)
            state.result.unmatched.append(
                Unmatched(
                    line.id,
                    ExceptionReason.AMOUNT_MISMATCH,
                    f"{name} de {item.key}: se esperaban {item.amount_centavos} centavos, "
                    f"llegaron {line.amount_centavos}",
                )
            )


class _AmountIndex:
    """Expected items (or groups) by amount, so a line only looks at those within tolerance."""

    def __init__(self, entries: Iterable[tuple[int, str]]) -> None:
        self.entries = sorted(entries)
        self.amounts = [amount for amount, _ in self.entries]

    def near(self, amount: int, tolerance: int) -> list[str]:
        low = bisect_left(self.amounts, amount - tolerance)
        high = bisect_right(self.amounts, amount + tolerance)
        return [key for _, key in self.entries[low:high]]


def _group_index(state: _State) -> tuple[dict[str, list[Expected]], _AmountIndex]:
    groups: dict[str, list[Expected]] = defaultdict(list)
    for item in state.expected.values():
        if item.group and not item.reusable and state.free(item):
            groups[item.group].append(item)
    totals = ((sum(i.amount_centavos or 0 for i in items), g) for g, items in groups.items())
    return groups, _AmountIndex(totals)


def _one_to_many(lines: Sequence[LineFacts], state: _State, tolerances: Tolerances) -> None:
    groups, index = _group_index(state)
    for line in lines:
        if line.id in state.done:
            continue
        for name in index.near(line.amount_centavos, tolerances.amount_tolerance_centavos):
            items = groups[name]
            if not all(
                state.free(i)
                and i.direction is line.direction
                and _within(line.on, i.on, tolerances)
                for i in items
            ):
                continue
            confidence = 92 if name.upper() in line.concept.upper() else 85
            state.propose([line], items, Strategy.ONE_TO_MANY, "amount", confidence, tolerances)
            break


def _score(line: LineFacts, item: Expected, tolerances: Tolerances) -> int:
    """55 for the amount, up to 15 for the date, up to 30 for the concept's similarity."""
    window = tolerances.date_window_days
    days = abs((line.on - item.on).days) if line.on and item.on else window
    closeness = 15 - (15 * days) // max(1, window + 1)
    similarity = (
        int(fuzz.token_set_ratio(line.concept.upper(), item.label.upper()))
        if item.label and line.concept
        else 0
    )
    return 55 + closeness + (30 * similarity) // 100


def _fuzzy(lines: Sequence[LineFacts], state: _State, tolerances: Tolerances) -> None:
    index = _AmountIndex(
        (item.amount_centavos, item.key)
        for item in state.expected.values()
        if item.amount_centavos is not None and not item.reusable
    )
    for line in lines:
        if line.id in state.done:
            continue
        scored = sorted(
            (-_score(line, item, tolerances), item.key)
            for key in index.near(line.amount_centavos, tolerances.amount_tolerance_centavos)
            if (item := state.expected[key]).direction is line.direction
            and state.free(item)
            and _within(line.on, item.on, tolerances)
        )
        if not scored:
            continue
        confidence, key = -scored[0][0], scored[0][1]
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            confidence = min(confidence, tolerances.book_threshold - 1)  # ambiguous: staff decide
        state.propose(
            [line], [state.expected[key]], Strategy.FUZZY, "amount", confidence, tolerances
        )


def match_lines(
    lines: Iterable[LineFacts],
    expected: Iterable[Expected],
    tolerances: Tolerances | None = None,
) -> MatchResult:
    """Explain each line once: a proposal (booked or suggested) or an unmatched reason."""
    tolerances = tolerances or Tolerances()
    ordered = sorted(lines, key=lambda line: line.id)
    state = _State({item.key: item for item in sorted(expected, key=lambda e: e.key)})
    _exact(ordered, state, tolerances)
    _one_to_many(ordered, state, tolerances)
    _fuzzy(ordered, state, tolerances)
    for line in ordered:
        if line.id not in state.done:
            state.result.unmatched.append(Unmatched(line.id, ExceptionReason.UNMATCHED))
    return state.result


@dataclass(frozen=True, slots=True)
class RemittanceShare:
    """One row of a payroll remittance: how much, for which loan (None: nobody we know)."""

    position: int
    centavos: int
    loan_id: int | None


@dataclass(frozen=True, slots=True)
class RemittanceSplit:
    """How a payroll deposit divides: paid to loans, left for staff, or not at all."""

    applied: tuple[RemittanceShare, ...]
    unknown: tuple[RemittanceShare, ...]
    shortfall_centavos: int  # remittance total − deposit; not 0: nothing is split

    @property
    def mismatch(self) -> bool:
        return self.shortfall_centavos != 0


def split_remittance(deposit_centavos: int, shares: Sequence[RemittanceShare]) -> RemittanceSplit:
    """The N:1 remittance strategy: one deposit across many loans, exactly.

    Only a remittance that adds up to the deposit is split (an employer that paid a
    different amount than it says it paid is a question for staff, not a guess); rows that
    name no loan of ours stay in suspense, each an exception for its own amount.
    """
    total = sum(share.centavos for share in shares)
    if total != deposit_centavos or not shares:
        return RemittanceSplit((), (), total - deposit_centavos)
    known = tuple(share for share in shares if share.loan_id is not None)
    unknown = tuple(share for share in shares if share.loan_id is None)
    return RemittanceSplit(known, unknown, 0)
