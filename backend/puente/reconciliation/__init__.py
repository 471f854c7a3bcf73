"""Reconciliation: bank statements and gateway settlements against the book.

importers/ (streaming readers: CAMT.053, MT940, CSV presets, STP) ─► ParsedLine
service.import_statement: dedup + store, one transaction ─► StatementLine rows
matcher (pure): exact keys, then amount + date window + concept ─► Proposal
booking: clearing → bank, fees, a new payment through the funnel, or suspense + exception
"""
