"""A person's notification channels (the portal's "Notificaciones" page reads and sets them)."""

from __future__ import annotations

from puente.accounts.models import User
from puente.notifications.models import NotificationPreference

__all__ = ["preferences_of", "save_preferences"]


async def preferences_of(user: User) -> NotificationPreference:
    """Their stored choice, or the default (email only) unsaved."""
    found = await NotificationPreference.get_or_none(user_id=user.id)
    return found or NotificationPreference(user_id=user.id)


async def save_preferences(
    user: User, *, email: bool, sms: bool, whatsapp: bool, opted_out: bool
) -> NotificationPreference:
    """Store their choice; opting out keeps the channels they had, silenced."""
    prefs, _ = await NotificationPreference.get_or_create(user_id=user.id)
    prefs.email, prefs.sms, prefs.whatsapp, prefs.opted_out = email, sms, whatsapp, opted_out
    await prefs.save()
    return prefs
