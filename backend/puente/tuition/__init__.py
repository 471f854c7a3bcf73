"""Tuition (colegiaturas): school payment plans built on the loan installment engines."""
