"""Tuition (colegiaturas): school payment plans built on the loan installment engines.

Importing the package registers tuition's pricing with the loan core (``tuition/product.py``
→ ``loans/pricing.py``), which never imports tuition itself.
"""

from puente.tuition import product as _product  # noqa: F401  (registers the pricing)
