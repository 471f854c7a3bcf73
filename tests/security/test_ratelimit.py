from __future__ import annotations

import pytest

from puente.config import Settings
from puente.security.ratelimit import ThrottleRule, account_rule, address_rule


def test_rules_come_from_the_login_settings() -> None:
    settings = Settings(login_max_failures=7, login_lockout_seconds=300, login_ip_max_failures=40)
    assert account_rule(settings) == ThrottleRule(max_attempts=7, window_seconds=300)
    assert address_rule(settings) == ThrottleRule(max_attempts=40, window_seconds=300)


@pytest.mark.parametrize(("attempts", "window"), [(0, 60), (5, 0), (-1, -1)])
def test_a_rule_must_be_positive(attempts: int, window: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        ThrottleRule(attempts, window)
