"""Where a payer types a card, per institution and gateway: the one place that decides it.

A card number never reaches Puente: the gateway's own tokenisation turns it into a token
(``HostedCardForm`` in the provider's spec says how). For one institution and gateway the
card step is, first that applies:

1. the institution's own hosted page (credential ``card_form_url``);
2. in the sandbox/demo, the simulator's equivalent page (``/sandbox/<provider>`` + path);
3. the gateway's script on Puente's card page, with the institution's PUBLIC key
   (credential ``public_key``) and any other public values the script needs;
4. none: the gateway offers no cards, or the institution lacks the credential; the portal
   then does not offer cards through it (``docs/providers.md`` tells staff what to add).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from puente.providers.spec import ProviderSpec

__all__ = ["CardStep", "card_step"]


@dataclass(frozen=True, slots=True)
class CardStep:
    """Either a hosted ``page`` to send the payer to, or a ``script`` to load on ours."""

    provider: str
    page: str = ""
    script: str = ""
    script_origin: str = ""
    public_key: str = ""
    # Other public values the script needs (Openpay's merchant id), by credential name.
    script_values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "script_values", MappingProxyType(dict(self.script_values)))

    @property
    def hosted(self) -> bool:
        """True: redirect to ``page``; False: render Puente's page loading ``script``."""
        return bool(self.page)


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else ""


def card_step(
    spec: ProviderSpec, credentials: Mapping[str, str], sandbox_base: str | None
) -> CardStep | None:
    """The card step for one institution's ``credentials`` with ``spec``'s gateway.

    ``sandbox_base`` is the simulator's payer-facing URL in sandbox mode, None in production.
    """
    form = spec.card_form
    if form is None or not spec.offers_cards:
        return None
    own_page = _web_url(str(credentials.get(form.url_credential) or ""))
    if own_page:
        return CardStep(spec.name, page=own_page)
    if sandbox_base:
        return CardStep(spec.name, page=f"{sandbox_base}{form.path}")
    public_key = str(credentials.get(form.key_credential) or "")
    values = {name: str(credentials.get(name) or "") for name in form.script_credentials}
    if not form.script or not public_key or not all(values.values()):
        return None  # no way to tokenise: never offer a card form we cannot show
    return CardStep(
        spec.name,
        script=form.script,
        script_origin=form.script_origin,
        public_key=public_key,
        script_values=values,
    )
