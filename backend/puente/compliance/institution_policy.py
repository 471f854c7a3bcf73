"""An institution's compliance policy, read from its settings (the one place services ask)."""

from __future__ import annotations

from puente.compliance.policy import AmlPolicy, policy_from_settings
from puente.institutions.models import Institution

__all__ = ["policy_for"]


async def policy_for(institution_id: int) -> AmlPolicy:
    """The policy in ``Institution.settings["aml"]``, defaults for what it does not set."""
    institution = await Institution.get(id=institution_id)
    return policy_from_settings(institution.settings)
