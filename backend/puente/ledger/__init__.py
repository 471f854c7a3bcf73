"""Double-entry ledger. Balances are always derived from postings."""
