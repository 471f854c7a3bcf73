"""Where the portal's pages come from: the templates and static files under ``frontend/``."""

from __future__ import annotations

from starlette.templating import Jinja2Templates

from puente.frontend import FRONTEND_DIR
from puente.portal.formatting import fecha, fecha_hora, mxn, mxn_centavos
from puente.portal.loan_text import register_loan_filters

__all__ = ["FRONTEND_DIR", "portal_templates"]


def portal_templates() -> Jinja2Templates:
    """The Jinja environment with the money, date and loan filters every page uses."""
    templates = Jinja2Templates(directory=str(FRONTEND_DIR / "templates"))
    templates.env.filters["mxn"] = mxn
    templates.env.filters["mxn_centavos"] = mxn_centavos
    templates.env.filters["fecha"] = fecha
    templates.env.filters["fecha_hora"] = fecha_hora
    register_loan_filters(templates.env)
    return templates
