"""The staff console's services: what a cashier and an administrator of one institution see
and do. The portal's ``/consola`` pages (``portal/console.py``) are thin doors onto these.

    feed.py       what just happened (payments, payouts, webhook events), filtered
    queues.py     the work lists: expiring references, failed webhooks (replay), suspense,
                  reconciliation exceptions, delinquent loans by bucket
    health.py     each provider account: circuit breaker, error rate, p95 latency, last webhook
    search.py     a borrower by name, email, CURP/RFC (blind index), CLABE last 4, reference
    loan_file.py  one loan: schedule, ledger activity, payments, audit trail
    actions.py    refund, cash at the branch, approve and disburse, restructure, write off
    stats.py      the figures behind the charts; charts.py draws them as SVG
    roles.py      who may do what (checked by the route gate AND by each action)
"""
