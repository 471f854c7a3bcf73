"""Why a payment failed, said to the payer in Spanish (es-MX).

A failed payment stores a ``failure_code``: Puente's normalised code
(``providers.errors.ErrorCode``) or, where a connector kept it, the provider's own decline
code. This one table turns either into what happened and what the payer can do (GraphQL
``failureMessage``, the decline notice); a code not in it gets the general pair (never the
provider's English text, never anything about the card beyond what the payer knows).

Provider codes from their published decline tables (``/work/shared/reference/providers.md``):
Stripe ``decline_code``, Openpay error numbers 3001–3005, Mercado Pago ``status_detail``
``cc_rejected_*`` and PayPal issues.
"""

from __future__ import annotations

__all__ = ["GENERAL", "failure_advice", "failure_message"]

Advice = tuple[str, str]  # (what happened, what the payer can do)

GENERAL: Advice = (
    "No pudimos completar el pago.",
    "Intenta de nuevo o usa otro método de pago.",
)
_DECLINED = ("Tu banco rechazó el cargo.", "Usa otra tarjeta o llama a tu banco.")
_FUNDS = (
    "La tarjeta no tiene fondos suficientes.",
    "Usa otra tarjeta o paga por SPEI u OXXO.",
)
_EXPIRED_CARD = ("La tarjeta está vencida.", "Usa otra tarjeta.")
_CVC = ("El código de seguridad (CVV) no es correcto.", "Revísalo e intenta de nuevo.")
_CALL_BANK = (
    "Tu banco pide que autorices este cargo.",
    "Llama a tu banco e intenta de nuevo.",
)
_RISK = ("El cargo no pasó la revisión de seguridad.", "Usa otro método de pago.")
_AUTH = (
    "No se completó la verificación de tu banco (3-D Secure).",
    "Intenta de nuevo.",
)
_UNAVAILABLE = (
    "El procesador de pagos no respondió; no se hizo ningún cargo.",
    "Intenta de nuevo en unos minutos.",
)
_EXPIRED_REF = ("La referencia de pago venció sin recibir el dinero.", "Genera una nueva.")
_CANCELED = ("El pago se canceló antes de completarse.", "Puedes pagar de nuevo cuando quieras.")
_PAYPAL = (
    "PayPal no aceptó el método de pago.",
    "Elige otro en PayPal o paga de otra forma.",
)

_ADVICE: dict[str, Advice] = {
    # Puente's normalised codes (providers.errors.ErrorCode)
    "card_declined": _DECLINED,
    "insufficient_funds": _FUNDS,
    "expired_card": _EXPIRED_CARD,
    "authentication": _AUTH,
    "provider_unavailable": _UNAVAILABLE,
    "rate_limited": _UNAVAILABLE,
    "invalid_request": GENERAL,
    "expired": _EXPIRED_REF,
    "canceled": _CANCELED,
    # Stripe decline codes
    "generic_decline": _DECLINED,
    "do_not_honor": _DECLINED,
    "lost_card": _DECLINED,
    "stolen_card": _DECLINED,
    "pickup_card": _DECLINED,
    "fraudulent": _RISK,
    "incorrect_cvc": _CVC,
    "invalid_cvc": _CVC,
    "processing_error": _UNAVAILABLE,
    "authentication_required": _AUTH,
    "call_issuer": _CALL_BANK,
    "card_velocity_exceeded": _FUNDS,
    # Openpay error numbers
    "3001": _DECLINED,
    "3002": _EXPIRED_CARD,
    "3003": _FUNDS,
    "3004": _DECLINED,
    "3005": _RISK,
    # Mercado Pago status_detail
    "cc_rejected_insufficient_amount": _FUNDS,
    "cc_rejected_bad_filled_security_code": _CVC,
    "cc_rejected_call_for_authorize": _CALL_BANK,
    "cc_rejected_high_risk": _RISK,
    "cc_rejected_card_disabled": _CALL_BANK,
    "cc_rejected_other_reason": _DECLINED,
    # PayPal issues
    "instrument_declined": _PAYPAL,
    "payer_action_required": _AUTH,
}


def failure_advice(*codes: str | None) -> Advice:
    """What happened and what the payer can do: for the first of ``codes`` the table knows
    (the most specific first, e.g. the provider's then Puente's), else the general pair."""
    for code in codes:
        advice = _ADVICE.get((code or "").strip().lower())
        if advice is not None:
            return advice
    return GENERAL


def failure_message(code: str | None) -> str | None:
    """The payer's explanation of ``code`` in one text (None when the payment has no failure)."""
    if not code:
        return None
    return " ".join(failure_advice(code))
