"""Collections: saved cards, domiciliación mandates, scheduled charges and dunning.

Importing the package adds the day's scheduled charges to ``puente jobs daily`` (the app and
the CLI import it at start); ``puente serve`` also runs them in the background
(``collections.jobs.collect_forever``), each day under one lease across replicas.
"""

from __future__ import annotations

from puente.collections.jobs import daily_charges
from puente.loans.jobs import register_daily_step

register_daily_step("domiciliacion", daily_charges)
