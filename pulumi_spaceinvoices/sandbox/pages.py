"""HTML pages that stand in for Stripe: onboarding (what a link opens) and a pay-now page.

Onboarding: a valid link shows a button (`#complete-onboarding`) that enables charges and redirects to
the Connect config's `returnUrl`; a used or expired link redirects to its `refreshUrl`. Pay: the page
shows the invoice and a button (`#pay-now`) that marks it paid (`#payment-status` reads "Paid").
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .api import control_of, payment_refusal, store_of

router = APIRouter()

ONBOARDING_TITLE = "Stripe Connect onboarding (sandbox)"

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1a1f36; }
h1 { font-size: 1.4rem; } .muted { color: #697386; font-size: .9rem; }
dl { display: grid; grid-template-columns: max-content auto; gap: .4rem 1rem; }
dt { color: #697386; } dd { margin: 0; }
button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; font-size: 1rem;
         cursor: pointer; }
.status { font-size: 1.2rem; font-weight: 600; }
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>'
        f'<body><h1>{escape(title)}</h1>{body}'
        '<p class="muted">Space Invoices sandbox: a local test server, not Stripe.</p></body></html>\n'
    )
    return HTMLResponse(html, status_code=status)


def _not_found(what: str) -> HTMLResponse:
    return _page("Not found", f"<p>{escape(what)} does not exist.</p>", 404)


# Onboarding

def _link_state(request: Request, token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool]:
    """(link, Connect config, still usable?) for a link token."""
    store = store_of(request)
    link = store.link(token)
    if link is None:
        return None, None, False
    config = store.connect_config(link["account_id"])
    expired = time.time() - link["created"] >= control_of(request).settings.link_expiry_seconds
    return link, config, not link["used"] and not expired


def _to_refresh(config: dict[str, Any] | None) -> Response:
    if config and config["refresh_url"]:
        return RedirectResponse(config["refresh_url"], status_code=303)
    return _page(ONBOARDING_TITLE, "<p>This onboarding link has expired or was already used.</p>", 410)


@router.get("/sandbox/onboarding/{link_token}", name="page_onboarding")
async def onboarding_page(request: Request, link_token: str) -> Response:
    link, config, usable = _link_state(request, link_token)
    if link is None:
        return _not_found("This onboarding link")
    if not usable:
        return _to_refresh(config)
    return _page(
        ONBOARDING_TITLE,
        f'<p>Organization: <strong id="organization-name">{escape(link["organization_name"])}</strong></p>'
        "<p>In live mode Stripe would now ask for business and bank details. Here one click finishes.</p>"
        '<form method="post"><button id="complete-onboarding" type="submit">Complete onboarding</button></form>',
    )


@router.post("/sandbox/onboarding/{link_token}", name="page_onboarding")
async def complete_onboarding(request: Request, link_token: str) -> Response:
    link, config, usable = _link_state(request, link_token)
    if link is None:
        return _not_found("This onboarding link")
    if not usable or not store_of(request).complete_onboarding(link_token):
        return _to_refresh(config)
    if config and config["return_url"]:
        return RedirectResponse(config["return_url"], status_code=303)
    return _page(ONBOARDING_TITLE, '<p id="onboarding-status" class="status">Onboarding complete</p>')


# Pay now

def _invoice_summary(invoice: dict[str, Any]) -> str:
    return (
        f'<dl><dt>Invoice</dt><dd id="invoice-number">{escape(invoice["number"])}</dd>'
        f'<dt>Amount</dt><dd id="invoice-amount">{invoice["amount"]:,.2f}</dd>'
        f'<dt>Currency</dt><dd id="invoice-currency">{escape(invoice["currency"])}</dd></dl>'
    )


def _paid(invoice: dict[str, Any]) -> HTMLResponse:
    return _page("Invoice paid", _invoice_summary(invoice) + '<p id="payment-status" class="status">Paid</p>')


def _payable(store: Any, shareable_id: str) -> Response | tuple[dict[str, Any], object]:
    """For a pay-page request: the page to show instead, else (invoice, why payment is refused)."""
    invoice = store.invoice(shareable_id)
    if invoice is None:
        return _not_found("This invoice")
    if invoice["paid"]:
        return _paid(invoice)
    return invoice, payment_refusal(store, invoice)


@router.get("/sandbox/pay/{shareable_id}", name="page_pay")
async def pay_page(request: Request, shareable_id: str) -> Response:
    payable = _payable(store_of(request), shareable_id)
    if isinstance(payable, Response):
        return payable
    invoice, refusal = payable
    action = (
        f'<p id="payment-unavailable">Online payment is not available: {escape(str(refusal))}</p>'
        if refusal
        else '<form method="post"><button id="pay-now" type="submit">Pay now</button></form>'
    )
    return _page(f"Invoice {invoice['number']}", _invoice_summary(invoice) + action)


@router.post("/sandbox/pay/{shareable_id}", name="page_pay")
async def pay(request: Request, shareable_id: str) -> Response:
    store = store_of(request)
    payable = _payable(store, shareable_id)
    if isinstance(payable, Response):
        return payable
    invoice, refusal = payable
    if refusal is not None:
        body = _invoice_summary(invoice) + f'<p id="payment-unavailable">Payment refused: {escape(str(refusal))}</p>'
        return _page(f"Invoice {invoice['number']}", body, 422)
    store.mark_paid(shareable_id)
    return _paid({**invoice, "paid": True})
