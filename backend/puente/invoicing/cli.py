"""``puente cfdi …`` and ``puente jobs fiscal``: the institution's CSD, cancellations, the sweep.

    puente cfdi csd --institucion SLUG --cer FILE --key FILE   (password from PUENTE_CSD_PASSWORD)
    puente cfdi cancelar UUID --motivo 01|02|03|04 [--sustituto UUID]
    puente jobs fiscal          one sweep: stamp pending CFDI, ask Banxico for pending CEPs

The CSD password is read from the environment, never from the command line (it would sit in
the shell history and the process list).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from puente.compliance.cli import with_runtime

__all__ = ["add_cfdi_commands", "add_fiscal_job"]


def cmd_csd(args: argparse.Namespace) -> int:
    from puente.institutions.models import Institution
    from puente.invoicing.service import CsdProblem, store_csd

    password = os.environ.get("PUENTE_CSD_PASSWORD", "")
    if not password:
        print(
            "puente cfdi csd: define PUENTE_CSD_PASSWORD con la contraseña de la llave",
            file=sys.stderr,
        )
        return 2
    cer, key = Path(args.cer).read_bytes(), Path(args.key).read_bytes()

    async def work(runtime: Any) -> int:
        institution = await Institution.filter(slug=args.institucion).first()
        if institution is None:
            print("puente cfdi csd: no existe esa institución", file=sys.stderr)
            return 2
        try:
            row = await store_csd(runtime, institution, cer, key, password)
        except CsdProblem as exc:
            print(f"puente cfdi csd: {exc}", file=sys.stderr)
            return 2
        print(f"CSD {row.certificate_number} de {row.rfc} guardado (cifrado)")
        return 0

    return with_runtime(work)


def cmd_cancel(args: argparse.Namespace) -> int:
    from puente.invoicing.cfdi import CfdiProblem
    from puente.invoicing.models import Invoice
    from puente.invoicing.pac import CancelReason, PacError
    from puente.invoicing.service import cancel_invoice
    from puente.invoicing.worker import default_pac

    async def work(runtime: Any) -> int:
        invoice = await Invoice.filter(uuid=args.uuid.upper()).first()
        if invoice is None:
            print("puente cfdi cancelar: no existe ese folio fiscal", file=sys.stderr)
            return 2
        pac = default_pac(runtime.settings)
        try:
            await cancel_invoice(
                runtime, pac, invoice, CancelReason(args.motivo), substitute_uuid=args.sustituto
            )
        except (CfdiProblem, PacError) as exc:
            print(f"puente cfdi cancelar: {exc}", file=sys.stderr)
            return 2
        finally:
            await pac.aclose()
        print(f"{invoice.uuid} cancelado (motivo {args.motivo})")
        return 0

    return with_runtime(work)


def cmd_fiscal(args: argparse.Namespace) -> int:
    from puente.invoicing.worker import (
        default_cep,
        default_pac,
        gateway_payments,
        run_fiscal_once,
    )
    from puente.payments.gateways import GatewayDirectory

    async def work(runtime: Any) -> int:
        pac = default_pac(runtime.settings)
        payments = gateway_payments(GatewayDirectory(runtime))
        try:
            report = await run_fiscal_once(runtime, pac, default_cep(runtime.settings), payments)
        finally:
            await pac.aclose()
        print(f"CFDI resueltos: {report.invoices_settled}; CEP validados: {report.ceps_validated}")
        return 0

    return with_runtime(work)


def add_cfdi_commands(commands: Any) -> None:
    """Register ``puente cfdi`` on the CLI's subparsers."""
    cfdi = commands.add_parser("cfdi", help="CFDI 4.0: CSD de la institución, cancelaciones")
    sub = cfdi.add_subparsers(dest="cfdi_command", required=True)
    csd = sub.add_parser("csd", help="guardar el CSD (certificado y llave) de una institución")
    csd.add_argument("--institucion", required=True)
    csd.add_argument("--cer", required=True)
    csd.add_argument("--key", required=True)
    csd.set_defaults(func=cmd_csd)
    cancel = sub.add_parser("cancelar", help="cancelar un CFDI ante el SAT (motivos 01–04)")
    cancel.add_argument("uuid")
    cancel.add_argument("--motivo", required=True, choices=("01", "02", "03", "04"))
    cancel.add_argument("--sustituto", default=None, help="folio que lo sustituye (motivo 01)")
    cancel.set_defaults(func=cmd_cancel)


def add_fiscal_job(jobs_commands: Any) -> None:
    """``puente jobs fiscal`` (cron, or the app's own worker every minute)."""
    fiscal = jobs_commands.add_parser("fiscal", help="timbrar CFDI pendientes y consultar CEP")
    fiscal.set_defaults(func=cmd_fiscal)
