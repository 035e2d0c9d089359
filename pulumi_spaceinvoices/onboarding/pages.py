"""The onboarding endpoint's HTML pages: small, self-contained (no script, no outside asset), and
never holding a link, token or signature beyond the form fields that page itself needs."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Reply

# No page may be cached, framed or indexed, and none sends its URL (with its signature) as a Referer,
# not even to Stripe after the 303.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #1a1f36; }
h1 { font-size: 1.4rem; } .muted { color: #697386; font-size: .9rem; } code { font-size: .95em; }
button { background: #635bff; color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.4rem; font-size: 1rem;
         cursor: pointer; }
"""


def _page(status: int, title: str, body: str, page_id: str) -> Reply:
    from .core import Reply

    html = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex, nofollow"><style>{_STYLE}</style></head>'
        f'<body data-page="{page_id}"><h1 id="title">{escape(title)}</h1>{body}</body></html>\n'
    )
    return Reply(status, html, {"Content-Type": "text/html; charset=utf-8"})


def _button(csrf: str, action: str | None = None, organization: str | None = None) -> str:
    target = f' action="{escape(action)}"' if action else ""  # no action: back to this very URL
    org_field = f'<input type="hidden" name="organization" value="{escape(organization)}">' if organization else ""
    return (f'<form method="post"{target}><input type="hidden" name="csrf" value="{escape(csrf)}">{org_field}'
            '<button id="continue" type="submit">Continue to Stripe</button></form>')


def entry(org_id: str, csrf: str) -> Reply:
    return _page(200, "Set up payments", (
        f'<p>Organization <code id="organization">{escape(org_id)}</code> is invited to accept card payments '
        "through Stripe.</p><p>Stripe will ask for your business and bank details. It takes a few minutes; "
        "you can leave and come back with the same link.</p>" + _button(csrf)), "entry")


def complete(org_id: str) -> Reply:
    return _page(200, "Onboarding complete", (
        f'<p id="onboarding-status" data-status="complete">Organization <code>{escape(org_id)}</code> can accept '
        "payments: Stripe has everything it needs.</p>"), "complete")


def more_details(org_id: str, csrf: str, action: str) -> Reply:
    return _page(200, "More details needed", (
        f'<p id="onboarding-status" data-status="pending">Stripe still needs some details for organization '
        f"<code>{escape(org_id)}</code> before it can accept payments.</p>" + _button(csrf, action, org_id)),
        "more-details")


def ask_for_entry_url() -> Reply:
    return _page(400, "Open your onboarding link again", (
        "<p>This page continues an onboarding started from the link your platform sent you, in this browser. "
        "Open that link again to go on.</p>"), "ask-for-entry-url")


def refused(message: str, status: int) -> Reply:
    return _page(status, "This link cannot be used", f'<p id="reason">{escape(message)}</p>', "refused")


def throttled(wait: float) -> Reply:
    seconds = max(1, math.ceil(wait))
    reply = _page(429, "Please wait a moment", (
        f"<p>Too many onboarding requests just now. Try again in {seconds} second{'s' if seconds > 1 else ''}.</p>"),
        "throttled")
    reply.headers["Retry-After"] = str(seconds)
    return reply


def unavailable() -> Reply:
    reply = _page(503, "Onboarding is unavailable", (
        "<p>Stripe onboarding cannot be reached right now. Try again in a minute.</p>"), "unavailable")
    reply.headers["Retry-After"] = "60"
    return reply


def no_account(org_id: str) -> Reply:
    return _page(404, "Not set up yet", (
        f"<p>Organization <code>{escape(org_id)}</code> has no Stripe Connect account yet. Ask your platform to "
        "create it, then open your link again.</p>"), "no-account")


def not_found() -> Reply:
    return _page(404, "Not found", "<p>There is no onboarding page here.</p>", "not-found")


def method_not_allowed() -> Reply:
    return _page(405, "Not allowed", "<p>This page cannot be used that way.</p>", "not-allowed")
