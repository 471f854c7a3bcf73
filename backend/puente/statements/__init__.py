"""Documents a borrower downloads: estado de cuenta, payment receipts, constancia de no
adeudo, payment history CSV. Every amount is read from the ledger (``data.py``); the PDFs
(``pdf.py``, fpdf2) and the CSV only lay those figures out."""
