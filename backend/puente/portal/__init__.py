"""The borrower/parent/staff portal: server-rendered pages with htmx."""
