"""Double-entry ledger. Balances come from postings: kept as running sums in the same
transaction as the postings (``balances.py``) and checked against them."""
