"""Account notices: the password-reset link, by email whatever the preferences."""

from __future__ import annotations

from puente.accounts.password_reset import issue_reset, token_hash
from puente.notifications.service import send_notice
from puente.runtime import Runtime

__all__ = ["send_password_reset"]


async def send_password_reset(runtime: Runtime, email: str) -> None:
    """Email a reset link if the account exists; the caller answers the same either way."""
    issued = await issue_reset(runtime, email)
    if issued is None:
        return
    await send_notice(
        runtime,
        kind="password_reset",
        user_id=issued.user.id,
        context={
            "enlace": f"{runtime.settings.base_url}/recuperar/{issued.token}",
            "minutos": issued.minutes,
        },
        dedupe_key=f"password_reset:{token_hash(issued.token)}",
    )
