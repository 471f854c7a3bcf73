"""Compliance: KYC onboarding, list screening, AML monitoring and the officer's cases.

Importing the package registers its checks with the payment path
(``payments.compliance_hooks``); the app and the CLI import it at start.
"""

from __future__ import annotations

from puente.compliance.registration import register

register()

__all__: list[str] = []
