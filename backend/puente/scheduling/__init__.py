"""Work that runs on a calendar, safely across many replicas (leases on job runs)."""
