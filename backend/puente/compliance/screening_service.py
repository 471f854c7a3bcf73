"""Loading watch lists and screening customers against them (service).

A customer is screened at onboarding, before every disbursement and, for every customer,
whenever a list is loaded. A hit on the UIF Lista de Personas Bloqueadas suspends the
customer's operations at once and opens a 24-hour case; a sanctions-list hit opens an
unusual-operation case; a PEP hit raises the risk grade (onboarding) and is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.compliance.cases import raise_alert, suspend_customer
from puente.compliance.institution_policy import policy_for
from puente.compliance.models import LoanApplication, WatchlistEntry
from puente.compliance.rules import AlertDraft, ReportKind
from puente.compliance.screening import ListEntry, ListKind, Screened, ScreeningHit, Watchlist
from puente.compliance.watchlist_file import parse_watchlist
from puente.enums import Role
from puente.loans.models import Loan
from puente.runtime import Runtime

__all__ = [
    "APPLICATION_CONTEXT",
    "current_watchlist",
    "customer_identity",
    "load_watchlists",
    "rescreen_all",
    "screen_customer",
    "screen_person",
]

APPLICATION_CONTEXT = "loan_applications.data"


async def current_watchlist() -> Watchlist:
    rows = await WatchlistEntry.all()
    return Watchlist(
        ListEntry(
            ListKind(row.kind),
            row.entry_id,
            row.name,
            tuple(row.aliases or ()),
            row.curp,
            row.rfc,
            row.birth_date,
        )
        for row in rows
    )


async def load_watchlists(
    runtime: Runtime, text: str, *, source: str, actor_id: int | None = None
) -> dict[str, int]:
    """Replace the lists present in ``text`` (a malformed file changes nothing), then
    re-screen every customer. Returns entries loaded per list."""
    entries = parse_watchlist(text)
    at = runtime.now()
    kinds = sorted({entry.kind.value for entry in entries})
    async with in_transaction() as tx:
        await WatchlistEntry.filter(kind__in=kinds).using_db(tx).delete()
        await WatchlistEntry.bulk_create(
            [
                WatchlistEntry(
                    kind=e.kind.value,
                    entry_id=e.entry_id,
                    name=e.name,
                    aliases=list(e.aliases),
                    curp=e.curp,
                    rfc=e.rfc,
                    birth_date=e.birth_date,
                    source=source[:200],
                    loaded_at=at,
                )
                for e in entries
            ],
            using_db=tx,
        )
        counts = {kind: sum(1 for e in entries if e.kind.value == kind) for kind in kinds}
        await record_audit(
            "aml.watchlist_loaded",
            actor_id=actor_id,
            subject_type="watchlist",
            subject_id=",".join(kinds),
            data={"source": source[:200], "entries": counts},
            conn=tx,
        )
    await rescreen_all(runtime, reason="lista_actualizada")
    return counts


async def customer_identity(runtime: Runtime, customer: User) -> Screened:
    """Who the customer is for screening: their latest application, else their account."""
    application = await LoanApplication.filter(user_id=customer.id).order_by("-id").first()
    if application is None:
        return Screened(customer.full_name)
    data = json.loads(runtime.cipher.decrypt(application.data_enc, context=APPLICATION_CONTEXT))
    return Screened(
        application.full_name,
        data.get("curp"),
        data.get("rfc"),
        _date_or_none(data.get("birth_date")),
    )


def _date_or_none(text: object) -> date | None:
    return date.fromisoformat(text) if isinstance(text, str) and text else None


def _draft(hit: ScreeningHit) -> AlertDraft | None:
    kind = hit.entry.kind
    if kind is ListKind.PEP:
        return None  # a PEP is high risk (enhanced due diligence), not an unusual operation
    report = ReportKind.BLOCKED if kind is ListKind.BLOCKED else ReportKind.UNUSUAL
    rule = "LISTA_PERSONAS_BLOQUEADAS" if kind is ListKind.BLOCKED else "LISTA_SANCIONES"
    return AlertDraft(
        rule,
        report,
        f"Coincidencia con la lista {kind.value} (id {hit.entry.entry_id}, similitud {hit.score}).",
        evidence={
            "list": kind.value,
            "entry_id": hit.entry.entry_id,
            "listed_name": hit.entry.name,
            "score": hit.score,
            "reasons": list(hit.reasons),
        },
    )


async def screen_person(
    *,
    watchlist: Watchlist,
    institution_id: int,
    customer_id: int,
    person: Screened,
    at: datetime,
    reason: str,
) -> list[ScreeningHit]:
    """Screen one person; record alerts and suspend on a blocked-list hit."""
    policy = await policy_for(institution_id)
    hits = watchlist.screen(person, policy.name_match_threshold)
    for hit in hits:
        draft = _draft(hit)
        if draft is None:
            continue
        alert = await raise_alert(
            draft,
            institution_id=institution_id,
            customer_id=customer_id,
            dedupe_key=f"{customer_id}:{hit.entry.kind.value}:{hit.entry.entry_id}",
            at=at,
            policy=policy,
        )
        if hit.entry.kind is ListKind.BLOCKED:
            await suspend_customer(
                institution_id=institution_id,
                customer_id=customer_id,
                case_id=alert.case_id if alert else None,
                reason=f"Lista de Personas Bloqueadas ({reason})",
                at=at,
            )
    return hits


async def screen_customer(
    runtime: Runtime, customer: User, *, reason: str, watchlist: Watchlist | None = None
) -> list[ScreeningHit]:
    """Screen a customer as they are known now (before a payout, after a list update)."""
    return await screen_person(
        watchlist=watchlist or await current_watchlist(),
        institution_id=customer.institution_id,
        customer_id=customer.id,
        person=await customer_identity(runtime, customer),
        at=runtime.now(),
        reason=reason,
    )


async def rescreen_all(runtime: Runtime, *, reason: str) -> int:
    """Screen every borrower with an application or a loan; returns how many."""
    watchlist = await current_watchlist()
    ids: Sequence[int] = sorted(
        set(await LoanApplication.all().values_list("user_id", flat=True))
        | set(await Loan.all().values_list("borrower_id", flat=True))
    )
    customers = await User.filter(id__in=list(ids), role__in=[Role.BORROWER, Role.GUARDIAN])
    for customer in customers:
        await screen_customer(runtime, customer, reason=reason, watchlist=watchlist)
    return len(customers)
