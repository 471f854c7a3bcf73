"""One table says why a payment failed and what the payer can do: the app's
``failureMessage`` and the decline notice read the same words."""

from __future__ import annotations

from puente.payments.failure_messages import GENERAL, failure_advice, failure_message


def test_the_message_is_what_happened_then_what_to_do():
    reason, action = failure_advice("insufficient_funds")
    assert failure_message("insufficient_funds") == f"{reason} {action}"
    assert reason == "La tarjeta no tiene fondos suficientes."


def test_the_most_specific_known_code_wins_and_unknown_codes_get_the_general_advice():
    assert failure_advice("stolen_card", "card_declined") == failure_advice("stolen_card")
    assert failure_advice("conekta_rare_code", "insufficient_funds") == failure_advice(
        "insufficient_funds"
    )
    assert failure_advice("nada", None) == GENERAL
    assert failure_message(None) is None
    assert failure_message("nada") == " ".join(GENERAL)
