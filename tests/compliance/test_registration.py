"""The payment path asks compliance through hooks that the app and the CLI register."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
{setup}
from puente.payments.compliance_hooks import compliance
hooks = compliance()
print(hooks.customer_refusal.__module__, len(hooks.transition_observers))
"""


@pytest.mark.parametrize(
    "setup", ["import puente.app", "import puente.cli; puente.cli.build_parser()"]
)
def test_the_app_and_the_cli_register_compliance_with_payments(setup):
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["puente.compliance.cases", "1"]


def test_the_payment_core_alone_registers_nothing():
    probe = PROBE.format(setup="import puente.payments.checkout, puente.payments.disbursements")
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["puente.payments.compliance_hooks", "0"]
