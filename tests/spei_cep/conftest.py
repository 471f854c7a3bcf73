"""Fixtures of these tests."""

from tests.support.banxico import banxico  # noqa: F401  (the running Banxico CEP simulator)
