"""A local Space Invoices server for tests, examples and the quickstart (ARCHITECTURE.md, The sandbox).

It speaks the Stripe Connect part of the Space Invoices API over real HTTP (FastAPI on uvicorn,
SQLite storage), keeps accounts apart by token, simulates Stripe onboarding and payment with small
HTML pages, enforces the rate limit, injects faults on request and records every request it served.
Needs the `sandbox` extra (fastapi, uvicorn); `import pulumi_spaceinvoices` never loads it.

Python API::

    from pulumi_spaceinvoices.sandbox import Sandbox, run_sandbox

    with run_sandbox(db=":memory:", rate_limit=100, secrets="full", link_methods=("POST", "GET"),
                     link_expiry_seconds=300, host="127.0.0.1", port=0) as sb:  # port 0: a free port
        sb.url                                        # "http://127.0.0.1:54321"
        acct = sb.create_account(email="ops@example.com")   # .id, .token, .email
        token2 = sb.create_token(acct.id)             # another token for the same account
        org_id = sb.create_organization(acct.id, name="Acme")   # 24-hex id
        inv = sb.create_invoice(org_id, amount=1250.0, currency="EUR")  # .id, .shareable_id, .number
        demo = sb.seed_demo()    # .account_id, .token, .organization_id, .invoice_id, .shareable_id

        sb.requests(operation=None, method=None)      # [RequestRecord(.method, .path, .operation, .status,
                                                      #   .account_id, .timestamp, .request_id, .fault)]
        sb.count("create_account", method=None)       # int
        sb.clear_requests()

        sb.fail_next("get_connect", status=503, count=2, retry_after=1)  # or path=regex, method="GET"
        sb.drop_next("create_account", count=1)       # connection reset, the work is not done
        sb.lose_response_next("enable_connect")       # the work is done, then the connection is reset
        sb.set_latency(0.05, operation=None)          # seconds before answering; 0 removes it
        sb.clear_faults()

        sb.set_secrets_mode("masked")                 # "full" | "masked" (sk_test_****1234) | "omitted"
        sb.set_link_methods({"GET"}, disallowed="405")  # or "404": a route-level 404 for the other verb
        sb.set_rate_limit(100)                        # per token per second; None or 0 = off
        sb.set_link_expiry(300)
        sb.reset()                                    # start-up settings, no faults, empty log

        sb.store.connect_config(acct.id)              # dict (snake_case) or None
        sb.store.org_account(org_id)                  # dict or None
        sb.store.count_org_accounts(org_id)           # int
        sb.store.invoice(inv.shareable_id)            # dict with "paid"
        sb.store.set_charges_enabled(org_id, True)    # out-of-band changes, as Stripe would make them
        sb.store.update_connect(acct.id, active=False)
        sb.store.update_org_account(record_id, active=False)

Operation names (request log, fault targets): get_connect, enable_connect, update_connect, get_account,
create_account, update_account, create_link (either verb), get_payment_intent, check_token,
page_onboarding, page_pay, and unknown for routes that do not exist. Paths match in any letter case.

Dropped connections are TCP resets (see `transport`): clients see a connection error, never a status.
The admin HTTP API for other processes is documented in `admin`; the command line in `cli`.
"""

from __future__ import annotations

from .control import RequestRecord, Settings
from .server import Account, Demo, Invoice, Sandbox, run_sandbox

__all__ = ["Account", "Demo", "Invoice", "RequestRecord", "Sandbox", "Settings", "run_sandbox"]
