"""Alerts, cases and suspensions: the compliance officer's queue (service).

    rule or list hit ─► raise_alert ─► open case of that kind for the customer (or a new one,
                                        due in 24 h or 60 days) ─► alert with its evidence
    officer ─► dismiss_case (reason) | report_case (report file) ─► closed, audited
    blocked-list hit ─► suspend_customer ─► payments and payouts refused (CUSTOMER_SUSPENDED)
                                              until lift_suspension (audited)

Every step writes an audit entry in the same transaction. Relevant operations (cash ≥ USD
7,500) are not unusual: they wait in a ``relevante`` case per customer and quarter, for the
quarterly report, and are never "dismissed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.compliance.models import AmlAlert, AmlCase, CustomerSuspension
from puente.compliance.policy import AmlPolicy
from puente.compliance.rules import AlertDraft, ReportKind
from puente.enums import Role

__all__ = [
    "CaseError",
    "CaseStatus",
    "SuspensionRefusal",
    "dismiss_case",
    "lift_suspension",
    "raise_alert",
    "report_case",
    "require_case_officer",
    "suspend_customer",
    "suspension_refusal",
]


class CaseStatus(StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"  # descartado, with the officer's reason
    REPORTED = "reported"  # reported to the UIF (report file generated)


class CaseError(Exception):
    """A case action refused; ``code`` and Spanish ``message`` are safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SuspensionRefusal:
    code: str
    message: str


SUSPENDED = SuspensionRefusal(
    "CUSTOMER_SUSPENDED",
    "Las operaciones de este cliente están suspendidas por cumplimiento normativo. "
    "Comunícate con la institución.",
)


def _deadline(kind: ReportKind, opened: datetime, policy: AmlPolicy) -> datetime:
    if kind is ReportKind.BLOCKED:
        return opened + timedelta(hours=policy.blocked_case_hours)
    if kind is ReportKind.UNUSUAL:
        return opened + timedelta(days=policy.unusual_case_days)
    # Relevantes: reported in the quarter after the operation (about 10 business days in,
    # mexico.md §3.2 UNCONFIRMED): due at the end of the first month after the quarter.
    quarter_end_month = ((opened.month - 1) // 3 + 1) * 3
    year, month = opened.year, quarter_end_month + 2
    if month > 12:
        year, month = year + 1, month - 12
    return opened.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


async def _open_case(
    conn: BaseDBAsyncClient,
    *,
    institution_id: int,
    customer_id: int,
    kind: ReportKind,
    at: datetime,
    policy: AmlPolicy,
) -> AmlCase:
    """The customer's open case of this kind, or a new one (related operations go in one
    report, 95 Bis rules)."""
    existing = (
        await AmlCase.filter(
            institution_id=institution_id,
            customer_id=customer_id,
            report_kind=kind.value,
            status=CaseStatus.OPEN.value,
        )
        .using_db(conn)
        .order_by("id")
        .first()
    )
    if existing is not None:
        return existing
    case = await AmlCase.create(
        institution_id=institution_id,
        customer_id=customer_id,
        report_kind=kind.value,
        opened_at=at,
        due_at=_deadline(kind, at, policy),
        using_db=conn,
    )
    await record_audit(
        "aml.case_opened",
        institution_id=institution_id,
        subject_type="aml_case",
        subject_id=case.id,
        data={"kind": kind.value, "customer": customer_id, "due_at": case.due_at.isoformat()},
        conn=conn,
    )
    return case


async def raise_alert(
    draft: AlertDraft,
    *,
    institution_id: int,
    customer_id: int,
    dedupe_key: str,
    at: datetime,
    policy: AmlPolicy,
) -> AmlAlert | None:
    """Record an alert in the customer's case; None when this key was already raised."""
    key = f"{draft.rule}:{dedupe_key}"[:120]
    if await AmlAlert.filter(dedupe_key=key).exists():
        return None
    try:
        async with in_transaction() as tx:
            case = await _open_case(
                tx,
                institution_id=institution_id,
                customer_id=customer_id,
                kind=draft.report_kind,
                at=at,
                policy=policy,
            )
            alert = await AmlAlert.create(
                institution_id=institution_id,
                customer_id=customer_id,
                case_id=case.id,
                rule=draft.rule,
                report_kind=draft.report_kind.value,
                summary=draft.summary[:500],
                payment_ids=list(draft.payment_ids),
                evidence=draft.evidence,
                dedupe_key=key,
                created_at=at,
                using_db=tx,
            )
            await record_audit(
                "aml.alert_raised",
                institution_id=institution_id,
                subject_type="aml_alert",
                subject_id=alert.id,
                data={"rule": draft.rule, "case": case.id, "payments": list(draft.payment_ids)},
                conn=tx,
            )
    except IntegrityError:
        return None  # raised concurrently by another worker
    return alert


def require_case_officer(actor: User, institution_id: int) -> None:
    """Staff or admin of the case's institution; anyone else is told it does not exist."""
    if Role(actor.role) not in (Role.STAFF, Role.ADMIN) or actor.institution_id != institution_id:
        raise CaseError("CASE_NOT_FOUND", "El caso no existe.")


async def _close(
    actor: User, case_id: int, status: CaseStatus, reason: str, at: datetime, **extra: object
) -> AmlCase:
    text = " ".join((reason or "").split())
    if len(text) < 10:
        raise CaseError("REASON_REQUIRED", "Explica el motivo (al menos 10 caracteres).")
    async with in_transaction() as tx:
        case = await AmlCase.select_for_update().using_db(tx).filter(id=case_id).first()
        if case is None:
            raise CaseError("CASE_NOT_FOUND", "El caso no existe.")
        require_case_officer(actor, case.institution_id)
        if case.status != CaseStatus.OPEN.value:
            raise CaseError("CASE_CLOSED", "El caso ya está cerrado.")
        if status is CaseStatus.DISMISSED and case.report_kind == ReportKind.RELEVANT.value:
            raise CaseError(
                "CASE_NOT_DISMISSABLE", "Las operaciones relevantes se reportan siempre."
            )
        case.status = status.value
        case.reason = text[:1000]
        case.closed_at = at
        case.closed_by_id = actor.id
        for name, value in extra.items():
            setattr(case, name, value)
        await case.save(using_db=tx)
        await record_audit(
            f"aml.case_{status.value}",
            actor_id=actor.id,
            institution_id=case.institution_id,
            subject_type="aml_case",
            subject_id=case.id,
            data={"reason": text[:1000], **{k: str(v) for k, v in extra.items()}},
            conn=tx,
        )
    return case


async def dismiss_case(actor: User, case_id: int, reason: str, *, at: datetime) -> AmlCase:
    """The officer finds the alerts justified: closed with the reason (audited)."""
    return await _close(actor, case_id, CaseStatus.DISMISSED, reason, at)


async def report_case(
    actor: User, case_id: int, reason: str, *, at: datetime, report_file: str
) -> AmlCase:
    """The officer reports the case; ``report_file`` names the generated report."""
    return await _close(actor, case_id, CaseStatus.REPORTED, reason, at, report_file=report_file)


async def suspend_customer(
    *, institution_id: int, customer_id: int, case_id: int | None, reason: str, at: datetime
) -> bool:
    """Suspend a customer's operations at once; False if already suspended."""
    async with in_transaction() as tx:
        if (
            await CustomerSuspension.filter(customer_id=customer_id, lifted_at__isnull=True)
            .using_db(tx)
            .exists()
        ):
            return False
        suspension = await CustomerSuspension.create(
            customer_id=customer_id,
            case_id=case_id,
            reason=reason[:300],
            created_at=at,
            using_db=tx,
        )
        await record_audit(
            "aml.customer_suspended",
            institution_id=institution_id,
            subject_type="user",
            subject_id=customer_id,
            data={"suspension": suspension.id, "case": case_id, "reason": reason[:300]},
            conn=tx,
        )
    return True


async def lift_suspension(actor: User, customer_id: int, reason: str, *, at: datetime) -> bool:
    """An officer lifts a suspension (a false positive, or the authority says so)."""
    customer = await User.filter(id=customer_id).first()
    if customer is None:
        raise CaseError("CUSTOMER_NOT_FOUND", "El cliente no existe.")
    require_case_officer(actor, customer.institution_id)
    if len(" ".join(reason.split())) < 10:
        raise CaseError("REASON_REQUIRED", "Explica el motivo (al menos 10 caracteres).")
    async with in_transaction() as tx:
        lifted = (
            await CustomerSuspension.filter(customer_id=customer_id, lifted_at__isnull=True)
            .using_db(tx)
            .update(lifted_at=at, lifted_by_id=actor.id, lift_reason=" ".join(reason.split())[:500])
        )
        if lifted:
            await record_audit(
                "aml.suspension_lifted",
                actor_id=actor.id,
                institution_id=customer.institution_id,
                subject_type="user",
                subject_id=customer_id,
                data={"reason": reason[:500]},
                conn=tx,
            )
    return bool(lifted)


async def suspension_refusal(customer_id: int) -> SuspensionRefusal | None:
    """The one place that says whether a customer may operate (payments, payouts)."""
    suspended = await CustomerSuspension.filter(
        customer_id=customer_id, lifted_at__isnull=True
    ).exists()
    return SUSPENDED if suspended else None
