"""Pure rules of a journal entry: what a line is and when a set of lines balances."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from puente.enums import LedgerAccountType

__all__ = [
    "CREDIT_NORMAL",
    "AccountRef",
    "LedgerError",
    "Line",
    "UnbalancedEntry",
    "check_balanced",
    "reversal_lines",
]

# Accounts whose natural balance is a credit (liabilities and income): shown negated.
CREDIT_NORMAL = frozenset(
    {
        LedgerAccountType.LOAN_ADVANCE,
        LedgerAccountType.INTEREST_INCOME,
        LedgerAccountType.LATE_INTEREST_INCOME,
        LedgerAccountType.FEE_INCOME,
        LedgerAccountType.VAT_UNCOLLECTED,
        LedgerAccountType.VAT_PAYABLE,
    }
)

LOAN_ACCOUNT_TYPES = frozenset(
    {
        LedgerAccountType.LOAN_PRINCIPAL,
        LedgerAccountType.LOAN_INTEREST,
        LedgerAccountType.LOAN_INTEREST_VAT,
        LedgerAccountType.LOAN_LATE_INTEREST,
        LedgerAccountType.LOAN_LATE_INTEREST_VAT,
        LedgerAccountType.LOAN_FEES,
        LedgerAccountType.LOAN_FEE_VAT,
        LedgerAccountType.LOAN_ADVANCE,
    }
)


class LedgerError(Exception):
    """Base of ledger refusals."""


class UnbalancedEntry(LedgerError):
    """The debits and credits of an entry differ; nothing was written."""


@dataclass(frozen=True, slots=True)
class AccountRef:
    """Names an account without touching the database: (institution, type, loan, provider)."""

    institution_id: int
    type: LedgerAccountType
    loan_id: int | None = None
    provider: str | None = None  # a registered provider's name (ProviderName for built-ins)

    def __post_init__(self) -> None:
        if self.provider is not None:  # plain text: an enum member hashes unlike its value
            object.__setattr__(self, "provider", str(self.provider))
        is_loan_account = self.type in LOAN_ACCOUNT_TYPES
        if is_loan_account and self.loan_id is None:
            raise LedgerError(f"{self.type} is a per-loan account: loan_id is required")
        if not is_loan_account and self.loan_id is not None:
            raise LedgerError(f"{self.type} is an institution account: it takes no loan_id")
        if (self.type is LedgerAccountType.CASH_CLEARING) != (self.provider is not None):
            raise LedgerError("cash_clearing accounts, and only they, name a provider")

    @property
    def code(self) -> str:
        """The natural key stored in ``LedgerAccount.code``."""
        if self.loan_id is not None:
            return f"loan:{self.loan_id}:{self.type.value}"
        suffix = f":{self.provider}" if self.provider is not None else ""
        return f"inst:{self.institution_id}:{self.type.value}{suffix}"


@dataclass(frozen=True, slots=True)
class Line:
    """One posting to be: ``centavos`` > 0 debits the account, < 0 credits it."""

    account: AccountRef
    centavos: int
    installment_number: int | None = None
    component: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.centavos, int) or isinstance(self.centavos, bool):
            raise LedgerError("posting amounts are integer centavos")


def check_balanced(lines: Sequence[Line]) -> None:
    """Refuse an entry that is empty, has zero lines, or whose debits and credits differ."""
    if not lines:
        raise UnbalancedEntry("a journal entry needs at least two postings")
    if any(line.centavos == 0 for line in lines):
        raise UnbalancedEntry("a posting of zero is meaningless; drop it")
    if len(lines) < 2:
        raise UnbalancedEntry("a journal entry needs at least two postings")
    institutions = {line.account.institution_id for line in lines}
    if len(institutions) != 1:
        raise UnbalancedEntry("an entry cannot span institutions")
    total = sum(line.centavos for line in lines)
    if total != 0:
        raise UnbalancedEntry(f"debits and credits differ by {total} centavos")


def reversal_lines(lines: Iterable[Line]) -> list[Line]:
    """The lines that cancel ``lines`` exactly (same accounts, opposite signs)."""
    return [
        Line(line.account, -line.centavos, line.installment_number, line.component)
        for line in lines
    ]
