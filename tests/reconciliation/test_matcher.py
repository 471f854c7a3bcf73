"""The matching engine: exact keys first, then 1:N, then amount + date + concept."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from puente.reconciliation.enums import Direction, ExceptionReason, MatchKind, Strategy
from puente.reconciliation.matcher import (
    Expected,
    LineFacts,
    RemittanceShare,
    Tolerances,
    match_lines,
    split_remittance,
)

DAY = date(2026, 11, 20)
IN = Direction.CREDIT


def line(id: int, centavos: int, **kw: object) -> LineFacts:
    values: dict[str, object] = {"direction": IN, "amount_centavos": centavos, "on": DAY}
    values.update(kw)
    return LineFacts(id=id, **values)  # type: ignore[arg-type]


def payment(key: str, centavos: int, **kw: object) -> Expected:
    values: dict[str, object] = {
        "kind": MatchKind.PAYMENT,
        "direction": IN,
        "amount_centavos": centavos,
        "on": DAY,
    }
    values.update(kw)
    return Expected(key=key, **values)  # type: ignore[arg-type]


def test_a_clave_de_rastreo_matches_exactly_whatever_else_looks_alike():
    result = match_lines(
        [line(1, 1500_00, clave_rastreo="BB1")],
        [payment("p:decoy", 1500_00), payment("p:real", 1500_00, clave_rastreo="BB1")],
    )
    (proposal,) = result.proposals
    assert proposal.expected_keys == ("p:real",)
    assert (proposal.strategy, proposal.key, proposal.confidence) == (
        Strategy.EXACT_KEY,
        "clave_rastreo",
        100,
    )
    assert proposal.booked


def test_a_key_with_another_amount_is_an_amount_mismatch_not_a_match():
    result = match_lines(
        [line(1, 1400_00, reference="1234567")], [payment("p", 1500_00, reference="1234567")]
    )
    assert result.proposals == []
    (unmatched,) = result.unmatched
    assert unmatched.reason is ExceptionReason.AMOUNT_MISMATCH


def test_several_transfers_with_one_reference_settle_one_amount():
    result = match_lines(
        [line(1, 1000_00, reference="77"), line(2, 500_00, reference="77")],
        [payment("p", 1500_00, reference="77")],
    )
    (proposal,) = result.proposals
    assert proposal.line_ids == (1, 2) and proposal.strategy is Strategy.MANY_TO_ONE


def test_a_loan_clabe_takes_any_amount_and_many_deposits():
    loan = Expected("loan:7", MatchKind.LOAN, IN, None, clabe="646180157000000004")
    result = match_lines(
        [
            line(1, 321_00, beneficiary_account="646180157000000004"),
            line(2, 99_00, beneficiary_account="646180157000000004"),
        ],
        [loan],
    )
    assert [p.expected_keys for p in result.proposals] == [("loan:7",), ("loan:7",)]
    assert all(p.key == "clabe" and p.booked for p in result.proposals)


def test_a_payout_id_in_the_concept_names_the_settlement():
    payout = Expected(
        "settlement:stripe:po_1ABCDEF",
        MatchKind.SETTLEMENT,
        IN,
        9_650_00,
        DAY,
        provider_reference="PO_1ABCDEF",
    )
    result = match_lines([line(1, 9_650_00, concept="STRIPE PAYOUT PO_1ABCDEF")], [payout])
    assert result.proposals[0].key == "provider_reference"


def test_one_deposit_covers_a_group_net_of_fees():
    items = [
        payment("s:a", 1000_00, group="po_9", kind=MatchKind.SETTLEMENT),
        payment("s:b", 2000_00, group="po_9", kind=MatchKind.SETTLEMENT),
        payment("s:fee", -104_40, group="po_9", kind=MatchKind.SETTLEMENT),
    ]
    result = match_lines([line(1, 2895_60, concept="DEPOSITO po_9")], items)
    (proposal,) = result.proposals
    assert proposal.strategy is Strategy.ONE_TO_MANY
    assert set(proposal.expected_keys) == {"s:a", "s:b", "s:fee"}


def test_fuzzy_match_is_booked_when_the_concept_agrees_and_suggested_when_not():
    tolerances = Tolerances(date_window_days=3)
    named = match_lines(
        [line(1, 1500_00, concept="PAGO ANA PRUEBA PRESTAMO 12")],
        [payment("p", 1500_00, label="ANA PRUEBA PRESTAMO 12")],
        tolerances,
    )
    assert named.proposals[0].booked and named.proposals[0].strategy is Strategy.FUZZY
    vague = match_lines(
        [line(1, 1500_00, on=DAY + timedelta(days=3), concept="TRASPASO")],
        [payment("p", 1500_00, label="ANA PRUEBA")],
        tolerances,
    )
    assert not vague.proposals[0].booked


def test_two_equal_candidates_are_only_a_suggestion():
    result = match_lines([line(1, 1500_00)], [payment("a", 1500_00), payment("b", 1500_00)])
    assert not result.proposals[0].booked


def test_outside_the_date_window_nothing_matches():
    result = match_lines([line(1, 1500_00, on=DAY + timedelta(days=10))], [payment("p", 1500_00)])
    assert result.proposals == []
    assert result.unmatched[0].reason is ExceptionReason.UNMATCHED


# -- properties -------------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=5_000_00)
line_lists = st.lists(
    st.tuples(
        amounts,
        st.integers(0, 6),
        st.sampled_from(["", "R1", "R2", "R3"]),
        st.sampled_from([IN, Direction.DEBIT]),
    ),
    max_size=12,
)
expected_lists = st.lists(
    st.tuples(
        amounts,
        st.integers(0, 6),
        st.sampled_from(["", "R1", "R2", "R4"]),
        st.sampled_from(["", "g1", "g2"]),
        st.sampled_from([IN, Direction.DEBIT]),
    ),
    max_size=12,
)


def build(raw_lines, raw_expected):
    lines = [
        line(i + 1, amount, on=DAY + timedelta(days=d), clave_rastreo=r, direction=direction)
        for i, (amount, d, r, direction) in enumerate(raw_lines)
    ]
    expected = [
        payment(
            f"e{i}",
            amount,
            on=DAY + timedelta(days=d),
            clave_rastreo=r,
            group=g,
            direction=direction,
        )
        for i, (amount, d, r, g, direction) in enumerate(raw_expected)
    ]
    return lines, expected


@given(line_lists, expected_lists)
def test_every_line_is_explained_once_and_every_item_used_once(raw_lines, raw_expected):
    lines, expected = build(raw_lines, raw_expected)
    result = match_lines(lines, expected)
    explained = [i for p in result.proposals for i in p.line_ids]
    explained += [u.line_id for u in result.unmatched]
    assert sorted(explained) == [item.id for item in lines]
    used = [k for p in result.proposals for k in p.expected_keys]
    assert len(used) == len(set(used))


@given(line_lists, expected_lists)
def test_proposals_balance_in_amount_direction_and_confidence(raw_lines, raw_expected):
    lines, expected = build(raw_lines, raw_expected)
    by_line = {item.id: item for item in lines}
    by_key = {item.key: item for item in expected}
    tolerances = Tolerances()
    for proposal in match_lines(lines, expected, tolerances).proposals:
        got = sum(by_line[i].amount_centavos for i in proposal.line_ids)
        wanted = sum(by_key[k].amount_centavos or 0 for k in proposal.expected_keys)
        assert got == wanted  # tolerance 0: amounts are exact
        directions = {by_line[i].direction for i in proposal.line_ids}
        directions |= {by_key[k].direction for k in proposal.expected_keys}
        assert len(directions) == 1
        assert tolerances.suggest_threshold <= proposal.confidence <= 100
        assert proposal.booked == (proposal.confidence >= tolerances.book_threshold)


@given(line_lists, expected_lists, st.randoms())
def test_the_order_lines_arrive_in_changes_nothing(raw_lines, raw_expected, random):
    lines, expected = build(raw_lines, raw_expected)
    shuffled_lines, shuffled_expected = list(lines), list(expected)
    random.shuffle(shuffled_lines)
    random.shuffle(shuffled_expected)
    assert match_lines(lines, expected) == match_lines(shuffled_lines, shuffled_expected)


@given(st.lists(amounts, min_size=1, max_size=20, unique=True))
def test_lines_written_from_the_book_all_match_exactly(centavos):
    expected = [payment(f"e{i}", c, clave_rastreo=f"R{i}") for i, c in enumerate(centavos)]
    lines = [line(i + 1, c, clave_rastreo=f"R{i}") for i, c in enumerate(centavos)]
    result = match_lines(lines, expected)
    assert result.unmatched == []
    assert all(p.confidence == 100 and p.booked for p in result.proposals)


shares_lists = st.lists(
    st.builds(
        RemittanceShare,
        st.integers(1, 10_000),
        st.integers(1, 10_000_000),
        st.one_of(st.none(), st.integers(1, 50)),
    ),
    min_size=1,
    max_size=30,
)


@given(shares_lists, st.integers(-500, 500))
def test_a_remittance_splits_exactly_or_not_at_all(shares, off):
    total = sum(s.centavos for s in shares)
    split = split_remittance(total + off, shares)
    if off:
        assert split.mismatch and split.applied == split.unknown == ()
        assert split.shortfall_centavos == -off
    else:
        assert not split.mismatch
        assert sum(s.centavos for s in split.applied + split.unknown) == total
        assert all(s.loan_id is not None for s in split.applied)
        assert all(s.loan_id is None for s in split.unknown)
        assert len(split.applied) + len(split.unknown) == len(shares)
