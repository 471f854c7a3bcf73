"""Domain vocabularies shared by models, services and the API."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DisbursementStatus",
    "InstitutionKind",
    "JournalKind",
    "LedgerAccountType",
    "LoanStatus",
    "PaymentMethodType",
    "PaymentStatus",
    "ProviderEventStatus",
    "ProviderName",
    "Role",
    "SuspenseReason",
    "SuspenseStatus",
]


class InstitutionKind(StrEnum):
    LENDER = "lender"
    SCHOOL = "school"


class Role(StrEnum):
    BORROWER = "borrower"
    GUARDIAN = "guardian"  # parent/tutor who pays a student's tuition
    STUDENT = "student"
    STAFF = "staff"
    ADMIN = "admin"


class LoanStatus(StrEnum):
    APPLICATION = "application"
    APPROVED = "approved"
    DISBURSED = "disbursed"
    ACTIVE = "active"
    PAID_OFF = "paid_off"
    DEFAULTED = "defaulted"
    WRITTEN_OFF = "written_off"
    RESTRUCTURED = "restructured"


class ProviderName(StrEnum):
    STRIPE = "stripe"
    CONEKTA = "conekta"
    OPENPAY = "openpay"
    MERCADOPAGO = "mercadopago"
    PAYPAL = "paypal"
    STP = "stp"
    BANK = "bank"


class PaymentMethodType(StrEnum):
    CARD = "card"
    SPEI = "spei"
    CASH = "cash"
    PAYPAL = "paypal"


class PaymentStatus(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    CHARGED_BACK = "charged_back"


class DisbursementStatus(StrEnum):
    PENDING = "pending"  # recorded, not yet accepted by the bank
    SENT = "sent"  # accepted (registrada); waiting for settlement
    SETTLED = "settled"  # liquidada: the borrower has the money
    RETURNED = "returned"  # devuelta or rejected: nothing left our account for good
    FAILED = "failed"  # refused when sent (bad CLABE, funds)


class ProviderEventStatus(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"  # will be retried
    DEAD = "dead"  # gave up after N attempts; staff can replay
    IGNORED = "ignored"  # verified but not relevant (unknown type)
    EXCEPTION = "exception"  # verified, but disagrees with the payment (amount): for staff


class SuspenseStatus(StrEnum):
    OPEN = "open"  # money held in suspense, waiting for staff
    RESOLVED = "resolved"  # staff decided (refunded, applied by hand) and said how


class SuspenseReason(StrEnum):
    """Why received money could not be applied to a loan."""

    LOAN_NOT_PAYABLE = "LOAN_NOT_PAYABLE"  # paid off, written off (or not running) by then
    ABOVE_PAYOFF = "ABOVE_PAYOFF"  # more than settles the loan: the payoff applied, this held
    NOT_APPLICABLE = "NOT_APPLICABLE"  # the product takes no money beyond what is due
    # Reconciliation: a bank movement nothing in the book explains (yet).
    UNEXPLAINED_DEPOSIT = "UNEXPLAINED_DEPOSIT"
    UNEXPLAINED_DEBIT = "UNEXPLAINED_DEBIT"


class LedgerAccountType(StrEnum):
    """Chart of accounts. Loan accounts exist per loan; the rest per institution."""

    # Per loan (assets: what the borrower owes).
    LOAN_PRINCIPAL = "loan_principal"
    LOAN_INTEREST = "loan_interest"
    LOAN_INTEREST_VAT = "loan_interest_vat"
    LOAN_LATE_INTEREST = "loan_late_interest"
    LOAN_LATE_INTEREST_VAT = "loan_late_interest_vat"
    LOAN_FEES = "loan_fees"
    LOAN_FEE_VAT = "loan_fee_vat"
    LOAN_ADVANCE = "loan_advance"  # liability: pagos adelantados held for future installments
    # Per institution.
    CASH_CLEARING = "cash_clearing"  # one per provider: money the provider holds for us
    BANK = "bank"  # the institution's operating bank account
    SUSPENSE = "suspense"  # money received that could not be matched yet
    INTEREST_INCOME = "interest_income"
    LATE_INTEREST_INCOME = "late_interest_income"
    FEE_INCOME = "fee_income"
    VAT_UNCOLLECTED = "vat_uncollected"  # IVA trasladado no cobrado
    VAT_PAYABLE = "vat_payable"  # IVA trasladado cobrado (owed to SAT)
    WRITE_OFF_EXPENSE = "write_off_expense"
    # What a gateway keeps from each payout (its fee), and the IVA it charged on that fee,
    # which the institution may credit against the IVA it owes (IVA acreditable, LIVA art. 5).
    PROVIDER_FEES_EXPENSE = "provider_fees_expense"
    VAT_CREDITABLE = "vat_creditable"


class JournalKind(StrEnum):
    DISBURSEMENT = "disbursement"
    BILLING = "billing"  # an installment falls due: interest and IVA become receivable
    PAYMENT = "payment"
    LATE_CHARGE = "late_charge"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    REVERSAL = "reversal"
    ADJUSTMENT = "adjustment"
    SETTLEMENT = "settlement"
    WRITE_OFF = "write_off"
