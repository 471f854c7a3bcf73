"""Vocabularies of reconciliation (kept here, next to the models that store them)."""

from __future__ import annotations

from enum import StrEnum

# Defined where statements are read (the importers never reach up into this package).
from puente.reconciliation.importers.direction import Direction

__all__ = [
    "Direction",
    "ExceptionReason",
    "ExceptionStatus",
    "LineStatus",
    "MatchKind",
    "MatchStatus",
    "RemittanceStatus",
    "Resolution",
    "Strategy",
]


class LineStatus(StrEnum):
    UNMATCHED = "unmatched"  # imported, not yet looked at by the matcher
    MATCHED = "matched"  # booked against what explains it
    SUGGESTED = "suggested"  # a match below the threshold: staff confirm it
    EXCEPTION = "exception"  # nothing explains it: in the exceptions queue
    RESOLVED = "resolved"  # staff decided what it is


class MatchKind(StrEnum):
    """What a statement line was matched to."""

    PAYMENT = "payment"  # a payment Puente already knows (its money was in clearing)
    LOAN = "loan"  # money for a loan with no payment yet: recorded through the funnel
    DISBURSEMENT = "disbursement"  # a payout to a borrower (already credited to bank)
    SETTLEMENT = "settlement"  # a gateway payout: many payments, net of fees


class Strategy(StrEnum):
    EXACT_KEY = "exact_key"  # clave de rastreo, referencia numérica, provider ref, CLABE
    FUZZY = "fuzzy"  # amount + date window + concept similarity
    ONE_TO_MANY = "one_to_many"  # one line covers many expected items
    MANY_TO_ONE = "many_to_one"  # several lines settle one expected item
    REMITTANCE = "remittance"  # one payroll deposit split across many loans (N:1 remittance)
    MANUAL = "manual"  # staff matched it by hand


class MatchStatus(StrEnum):
    BOOKED = "booked"
    SUGGESTED = "suggested"
    REJECTED = "rejected"


class ExceptionReason(StrEnum):
    UNMATCHED = "UNMATCHED"  # no expected item explains the line
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"  # a key matched, the amount did not
    LOW_CONFIDENCE = "LOW_CONFIDENCE"  # only a suggestion: staff confirm or reject
    NOT_PAYABLE = "NOT_PAYABLE"  # names a loan that takes no payments
    UNKNOWN_EMPLOYEE = "UNKNOWN_EMPLOYEE"  # a remittance row that names no loan of ours
    REMITTANCE_MISMATCH = "REMITTANCE_MISMATCH"  # a remittance's total is not the deposit


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class RemittanceStatus(StrEnum):
    APPLIED = "applied"  # split across its loans (rows nobody knows left as exceptions)
    MISMATCH = "mismatch"  # its total is not the deposit's: nothing split, staff look


class Resolution(StrEnum):
    """What staff decided an exception was."""

    MATCHED_BY_HAND = "matched_by_hand"  # it pays this payment
    APPLIED_TO_LOAN = "applied_to_loan"  # it pays this loan (a payment is recorded)
    RETURNED = "returned"  # the transfer was sent back to the payer
    NOT_A_LOAN_PAYMENT = "not_a_loan_payment"  # it is something else (note says what)
    SPLIT_BY_REMITTANCE = "split_by_remittance"  # a payroll deposit its remittance explained
